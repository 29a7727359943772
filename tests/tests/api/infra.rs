//! The deployable artifacts and the templates that deploy them agree: `infra/package.sh` zips have the layout
//! `infra/README.md` deploys as it is, the SAM template points at the Lambda zip's `bootstrap`, and the Bicep sets
//! every app setting a `function.json` refers to and takes the video path from `VideoUploaded`'s binding.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn package(kind: &str, out: &Path) -> PathBuf {
    let status = Command::new("bash")
        .arg(repo().join("infra/package.sh"))
        .args([kind, "--out"])
        .arg(out)
        .arg("--binary")
        .arg(tests::handler_binary())
        .status()
        .expect("run infra/package.sh");
    assert!(status.success(), "infra/package.sh {kind}");
    out.join(if kind == "azure" { "function-app.zip" } else { "lambda.zip" })
}

/// Unzips `zip` into a fresh folder, as the platform does with a deployed package.
fn unzip(zip: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary folder");
    let status = Command::new("unzip").arg("-q").arg(zip).arg("-d").arg(dir.path()).status().expect("run unzip");
    assert!(status.success(), "unzip {}", zip.display());
    dir
}

fn runs(executable: &Path) -> bool {
    Command::new(executable).arg("--help").output().is_ok_and(|output| output.status.success())
}

#[test]
fn the_azure_package_has_host_json_the_handler_and_every_function_at_its_root() {
    let out = tempfile::tempdir().expect("temporary folder");
    // An older package in the way: its entries must not survive into the new one.
    std::fs::write(out.path().join("stale.txt"), "old").expect("write");
    let zipped = Command::new("zip")
        .current_dir(out.path())
        .args(["-q", "function-app.zip", "stale.txt"])
        .status()
        .expect("run zip");
    assert!(zipped.success());

    let app = unzip(&package("azure", out.path()));

    let host: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.path().join("host.json")).expect("host.json")).expect("JSON");
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "handler");
    assert!(runs(&app.path().join("handler")), "the packaged handler is executable");
    let mut expected: Vec<String> = vec!["handler".into(), "host.json".into()];
    for function in functions::manifest::functions().expect("manifest") {
        assert!(app.path().join(&function.name).join("function.json").is_file(), "{}", function.name);
        expected.push(function.name.clone());
    }
    let mut found: Vec<String> = std::fs::read_dir(app.path())
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "nothing else at the root, and packaging twice leaves no stale entries");
}

#[test]
fn the_lambda_package_is_the_executable_named_bootstrap_as_the_sam_template_expects() {
    let out = tempfile::tempdir().expect("temporary folder");
    let zip = package("lambda", out.path());
    let template = std::fs::read_to_string(repo().join("infra/template.yaml")).expect("template.yaml");

    let unpacked = unzip(&zip);

    assert!(runs(&unpacked.path().join("bootstrap")), "bootstrap is the executable");
    assert!(template.contains("CodeUri: ../dist/lambda.zip"), "the template deploys package.sh's default output");
    assert!(template.contains("Handler: bootstrap") && template.contains("Runtime: provided.al2023"));
    let input = format!(r#"Input: '{{"{}": "SyncStores"}}'"#, functions::host::lambda::SCHEDULE_INPUT_KEY);
    assert!(template.contains(&input), "the schedule names the timer the way the Lambda host reads it");
}

#[test]
fn the_bicep_sets_every_setting_a_binding_names_and_reads_the_video_path_from_its_binding() {
    let bicep = std::fs::read_to_string(repo().join("infra/main.bicep")).expect("main.bicep");
    let binding = "loadJsonContent('../functions/azure/VideoUploaded/function.json')";

    assert!(bicep.contains(binding), "one source of truth for the upload path");
    assert!(repo().join("infra").join("../functions/azure/VideoUploaded/function.json").is_file());
    assert!(bicep.contains("{ name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }"));
    for function in functions::manifest::functions().expect("manifest") {
        let text = std::fs::read_to_string(repo().join("functions/azure").join(&function.name).join("function.json"))
            .expect("function.json");
        for setting in text.split('%').skip(1).step_by(2) {
            assert!(bicep.contains(&format!("{{ name: '{setting}'")), "{} needs app setting {setting}", function.name);
        }
    }
    for setting in ["DATABASE_URL", "KEY_VAULT_URL", "SUPABASE_URL", "AzureWebJobsStorage__accountName"] {
        assert!(bicep.contains(&format!("{{ name: '{setting}'")), "{setting}");
    }
}
