//! Apps from a folder (`fazt server start --apps DIR`): every `DIR/<name>/` is an app,
//! read with the same checks and limits as a zip deploy. Hidden entries (`.git`,
//! `.DS_Store`) and symbolic links are skipped; files come in path order.

use std::path::Path;

use super::deploy::{check_path, check_site_name, DeployError, DeployLimits};
use super::mime;
use crate::storage::SiteFile;

/// Every app under `dir`, by name, in name order. A folder whose name is not a valid
/// site name is an error (rename it), not silently skipped.
pub fn read_apps_dir(
    dir: &Path,
    limits: &DeployLimits,
) -> Result<Vec<(String, Vec<SiteFile>)>, DeployError> {
    let mut apps = Vec::new();
    for entry in sorted_entries(dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        check_site_name(&name)?;
        let mut files = Vec::new();
        let mut budget = limits.unpacked_bytes_max;
        collect(&entry.path(), "", limits, &mut budget, &mut files)?;
        if files.is_empty() {
            return Err(DeployError::Empty);
        }
        apps.push((name, files));
    }
    Ok(apps)
}

fn unreadable(path: &Path, error: std::io::Error) -> DeployError {
    DeployError::InvalidUpload(format!("cannot read {}: {error}", path.display()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>, DeployError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|error| unreadable(dir, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(dir, error))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    Ok(entries)
}

fn collect(
    dir: &Path,
    prefix: &str,
    limits: &DeployLimits,
    budget: &mut u64,
    files: &mut Vec<SiteFile>,
) -> Result<(), DeployError> {
    for entry in sorted_entries(dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry
            .file_type()
            .map_err(|error| unreadable(&entry.path(), error))?;
        if name.starts_with('.') || kind.is_symlink() {
            continue;
        }
        let relative = format!("{prefix}{name}");
        if kind.is_dir() {
            collect(
                &entry.path(),
                &format!("{relative}/"),
                limits,
                budget,
                files,
            )?;
            continue;
        }
        let path = check_path(&relative, limits)?;
        if files.len() >= limits.entries_max {
            return Err(DeployError::TooManyEntries {
                limit: limits.entries_max,
            });
        }
        let data = std::fs::read(entry.path()).map_err(|error| unreadable(&entry.path(), error))?;
        *budget = budget
            .checked_sub(data.len() as u64)
            .ok_or(DeployError::TooLarge {
                limit: limits.unpacked_bytes_max,
            })?;
        let mime = mime::for_path(&path);
        files.push(SiteFile::new(path, data, mime));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_become_apps() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("demo");
        std::fs::create_dir_all(app.join("api")).unwrap();
        std::fs::create_dir_all(app.join(".git")).unwrap();
        std::fs::write(app.join("index.html"), "<h1>demo</h1>").unwrap();
        std::fs::write(app.join("api/main.js"), "respond(1)").unwrap();
        std::fs::write(app.join(".git/HEAD"), "x").unwrap();
        std::fs::write(dir.path().join("README.md"), "not an app").unwrap();
        let apps = read_apps_dir(dir.path(), &DeployLimits::default()).unwrap();
        assert_eq!(apps.len(), 1);
        let (name, files) = &apps[0];
        assert_eq!(name, "demo");
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["api/main.js", "index.html"]);
        std::fs::create_dir(dir.path().join("Bad_Name")).unwrap();
        assert!(read_apps_dir(dir.path(), &DeployLimits::default()).is_err());
    }
}
