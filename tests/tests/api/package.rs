use std::process::Command;

#[test]
fn package_writes_host_json_the_executable_and_a_function_json_per_function() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let stale = dir.path().join("Removed");
    std::fs::create_dir_all(&stale).expect("stale folder");
    std::fs::write(stale.join("function.json"), "{}").expect("stale function.json");

    let status = Command::new(tests::handler_binary()).arg("package").arg(dir.path()).status().expect("run handler");

    assert!(status.success());
    let host: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("host.json")).expect("host.json")).expect("JSON");
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "handler");
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    let executable = dir.path().join("handler");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&executable).expect("handler").permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable");
    }
    let help = Command::new(&executable).arg("--help").output().expect("packaged handler runs");
    assert!(help.status.success());

    let mut kinds = Vec::new();
    for function in functions::manifest::functions().expect("manifest") {
        let text =
            std::fs::read_to_string(dir.path().join(&function.name).join("function.json")).expect("function.json");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        kinds.push(json["bindings"][0]["type"].as_str().expect("type").to_owned());
    }
    for kind in ["httpTrigger", "timerTrigger", "eventGridTrigger"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
    assert!(!stale.exists(), "a function folder the manifest no longer has is removed");
}
