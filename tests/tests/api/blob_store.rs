//! The blob store port: one conformance body, run against the folder store and against Azure Blob Storage (Azurite).

use shared::blob::{BlobError, BlobStore, same_etag};

const VIDEO: &str = "video/mp4";

/// Every operation the app relies on, with the same expectations for every adapter.
async fn conformance(store: &BlobStore, container: &str) {
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();

    // Write, then read the properties back.
    let written = store.write(container, "t1/a.mp4", bytes.clone(), VIDEO).await.expect("write");
    assert_eq!(written.length, bytes.len() as u64);
    assert!(!written.etag.is_empty());
    let properties = store.properties(container, "t1/a.mp4").await.expect("properties");
    assert!(same_etag(&properties.etag, &written.etag), "{properties:?} vs {written:?}");
    assert_eq!(properties.length, bytes.len() as u64);
    assert_eq!(properties.content_type.as_deref(), Some(VIDEO));

    // Ranged reads: inside, clipped at the end, past the end, and conditional on the ETag.
    let middle = store.read_range(container, "t1/a.mp4", 10..20, None).await.expect("range");
    assert_eq!(middle, bytes[10..20]);
    let tail = store.read_range(container, "t1/a.mp4", 99_995..100_100, None).await.expect("tail");
    assert_eq!(tail, bytes[99_995..]);
    let past = store.read_range(container, "t1/a.mp4", 200_000..200_010, None).await.expect("past the end");
    assert!(past.is_empty());
    let matched = store.read_range(container, "t1/a.mp4", 0..4, Some(&written.etag)).await.expect("if-match");
    assert_eq!(matched, bytes[..4]);

    // Replacing the blob changes its ETag; reads pinned to the old version fail.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let replaced = store.write(container, "t1/a.mp4", b"new content".to_vec(), VIDEO).await.expect("replace");
    assert!(!same_etag(&replaced.etag, &written.etag), "a new version has a new ETag");
    let stale = store.read_range(container, "t1/a.mp4", 0..4, Some(&written.etag)).await;
    assert!(matches!(stale, Err(BlobError::Changed)), "{stale:?}");

    // Listing by prefix, sorted by name.
    store.write(container, "t1/b.webm", b"b".to_vec(), "video/webm").await.expect("write b");
    store.write(container, "t2/c.mp4", b"c".to_vec(), VIDEO).await.expect("write c");
    let listed = store.list(container, "t1/").await.expect("list");
    let names: Vec<&str> = listed.iter().map(|item| item.name.as_str()).collect();
    assert_eq!(names, ["t1/a.mp4", "t1/b.webm"]);
    assert_eq!(listed[0].properties.length, 11);
    assert!(same_etag(&listed[0].properties.etag, &replaced.etag));

    // A streamed write: nothing under the name until it is committed, then every piece in order. 9 MiB of pieces
    // make Azure stage three blocks.
    let piece: Vec<u8> = (0..1_048_576u32).map(|i| (i % 253) as u8).collect();
    let mut writer = store.writer(container, "t3/big.csv", "text/csv").await.expect("writer");
    for _ in 0..9 {
        writer.append(&piece).await.expect("append");
    }
    assert!(matches!(store.properties(container, "t3/big.csv").await, Err(BlobError::NotFound)), "not yet");
    let streamed = writer.commit().await.expect("commit");
    assert_eq!(streamed.length, 9 * 1_048_576);
    let seam = store.read_range(container, "t3/big.csv", 4_194_300..4_194_310, None).await.expect("across a block");
    assert_eq!(seam, [&piece[1_048_572..], &piece[..6]].concat());
    let empty = store.writer(container, "t3/empty.csv", "text/csv").await.expect("writer");
    assert_eq!(empty.commit().await.expect("an empty blob").length, 0);

    // Deleting: gone afterwards, and deleting again is no error.
    store.delete(container, "t3/big.csv").await.expect("delete");
    assert!(matches!(store.properties(container, "t3/big.csv").await, Err(BlobError::NotFound)));
    store.delete(container, "t3/big.csv").await.expect("deleting what is gone");

    // Missing blobs.
    assert!(matches!(store.properties(container, "t1/missing.mp4").await, Err(BlobError::NotFound)));
    assert!(matches!(store.read_range(container, "t1/missing.mp4", 0..1, None).await, Err(BlobError::NotFound)));

    // Names that could escape the container are refused before any I/O.
    assert!(store.properties(container, "../secret").await.is_err());
}

#[tokio::test]
async fn the_folder_store_conforms() {
    let root = tempfile::tempdir().expect("temporary folder");
    let store = BlobStore::local(root.path().to_path_buf());
    store.create_container("videos").await.expect("container");

    conformance(&store, "videos").await;

    let upload = store.upload_url("videos", "t1/a.mp4", VIDEO, std::time::Duration::from_secs(60)).await;
    assert!(upload.expect("ok").is_none(), "the folder store's uploads go through the app");
    let leftovers: Vec<_> = std::fs::read_dir(root.path().join("videos/t1"))
        .expect("folder")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files stay behind: {leftovers:?}");
}

#[tokio::test]
async fn the_azure_store_conforms_on_azurite() {
    let (store, container) = tests::azurite_store().await;

    conformance(&store, &container).await;
}

#[tokio::test]
async fn an_azure_upload_url_takes_one_put_of_exactly_that_blob_and_nothing_else() {
    let (store, container) = tests::azurite_store().await;
    let upload = store
        .upload_url(&container, "t1/clip.mp4", VIDEO, std::time::Duration::from_secs(300))
        .await
        .expect("signable")
        .expect("Azure signs upload URLs");
    let client = reqwest::Client::new();
    let put = |url: String| {
        let mut request = client.put(url).body(b"\x00\x00\x00\x18ftypmp42".to_vec());
        for (name, value) in &upload.headers {
            request = request.header(*name, value);
        }
        request
    };

    let created = put(upload.url.clone()).send().await.expect("PUT");
    let other_blob = put(upload.url.replace("t1/clip.mp4", "t1/other.mp4")).send().await.expect("PUT elsewhere");
    let read_back = client.get(&upload.url).send().await.expect("GET");

    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap_or_default());
    assert_eq!(store.properties(&container, "t1/clip.mp4").await.expect("uploaded").length, 12);
    assert_eq!(other_blob.status(), 403, "the signature covers one blob only");
    assert_eq!(read_back.status(), 403, "the URL is write-only");
    assert_eq!(upload.method, "PUT");
    assert!(upload.headers.contains(&("x-ms-blob-type", "BlockBlob".to_owned())));
}
