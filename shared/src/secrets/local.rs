//! The embedded secret store: one owner-only file per secret in a folder (`<data-dir>/secrets` under
//! `handler dev`). A put writes a temporary file and renames it over the old one, so readers see the old value or
//! the new one, never a mix: the atomic replacement a refreshed token pair needs.

use std::{
    fmt,
    io::Write,
    path::{Path, PathBuf},
};

use secrecy::{ExposeSecret, SecretString};

use super::{SecretName, Secrets, SecretsError, SecretsFuture};

/// Secrets as files in a private folder.
#[derive(Clone)]
pub struct LocalSecrets {
    dir: PathBuf,
}

impl fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSecrets").field("dir", &self.dir).finish()
    }
}

impl LocalSecrets {
    /// A store in `dir` (created, owner-only, on first write).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, name: &SecretName) -> PathBuf {
        // Names are letters, digits and dashes only, so they cannot leave the folder.
        self.dir.join(name.as_ref())
    }
}

fn io_error(name: &SecretName) -> impl FnOnce(std::io::Error) -> SecretsError + '_ {
    move |source| SecretsError::Io { name: name.to_string(), source }
}

fn write_private(dir: &Path, target: &Path, value: &[u8]) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let temporary = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(value)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temporary, target)) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            Err(error)
        }
    }
}

impl Secrets for LocalSecrets {
    fn get<'a>(&'a self, name: &'a SecretName) -> SecretsFuture<'a, Option<SecretString>> {
        Box::pin(async move {
            match tokio::fs::read_to_string(self.path(name)).await {
                Ok(value) => Ok(Some(SecretString::from(value))),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(io_error(name)(error)),
            }
        })
    }

    fn put<'a>(&'a self, name: &'a SecretName, value: SecretString) -> SecretsFuture<'a, ()> {
        Box::pin(async move {
            let (dir, target) = (self.dir.clone(), self.path(name));
            tokio::task::spawn_blocking(move || write_private(&dir, &target, value.expose_secret().as_bytes()))
                .await
                .map_err(|join| io_error(name)(std::io::Error::other(join)))?
                .map_err(io_error(name))
        })
    }

    fn delete<'a>(&'a self, name: &'a SecretName) -> SecretsFuture<'a, ()> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(name)).await {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(io_error(name)(error)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_round_trip_replace_and_disappear() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let secrets = LocalSecrets::new(dir.path().join("secrets"));
        let name = SecretName::parse("store-1").expect("name");

        assert!(secrets.get(&name).await.expect("get").is_none());
        secrets.put(&name, SecretString::from("first")).await.expect("put");
        secrets.put(&name, SecretString::from("second")).await.expect("replace");
        let value = secrets.get(&name).await.expect("get").expect("present");
        secrets.delete(&name).await.expect("delete");
        secrets.delete(&name).await.expect("deleting twice is fine");

        assert_eq!(value.expose_secret(), "second");
        assert!(secrets.get(&name).await.expect("get").is_none());
        assert!(!format!("{secrets:?}").contains("second"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn files_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temporary folder");
        let secrets = LocalSecrets::new(dir.path().join("secrets"));
        let name = SecretName::parse("store-2").expect("name");
        secrets.put(&name, SecretString::from("v")).await.expect("put");
        let mode = std::fs::metadata(dir.path().join("secrets/store-2")).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
