//! `handler package`: the deployable function app folder. Azure Functions wants `host.json` at the root, the custom
//! handler executable it names, and one `<FunctionName>/function.json` per function; zip the folder to deploy.

use std::path::Path;

use anyhow::Context;

use crate::manifest;

/// The committed `host.json`, embedded so the package always matches the build.
pub const HOST_JSON: &str = include_str!("../../host.json");

/// Writes the package into `dir` (created if needed), copying `executable` as `handler`. Function folders already
/// in `dir` that the manifest no longer has are removed, so a reused folder never deploys a stale function.
pub fn write(dir: &Path, executable: &Path) -> anyhow::Result<()> {
    let functions = manifest::functions()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let stale = entry.path().join("function.json").is_file()
            && !functions.iter().any(|f| entry.file_name() == f.name.as_str());
        if stale {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    std::fs::write(dir.join("host.json"), HOST_JSON)?;
    let target = dir.join("handler");
    std::fs::copy(executable, &target)
        .with_context(|| format!("copying the executable {} into the package", executable.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
    }
    for function in functions {
        let folder = dir.join(&function.name);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join("function.json"), function.json)?;
    }
    Ok(())
}
