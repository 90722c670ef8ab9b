//! Server-function URLs (`/api/<name><hash>`) must not depend on the checkout's path: a front
//! end built in one clone calls the URLs a server built in another serves. Leptos hashes
//! `SERVER_FN_OVERRIDE_KEY` when it is set (`.cargo/config.toml`), else the crate's path.

use leptos::server_fn::{axum::server_fn_paths, xxhash_rust::const_xxh64::xxh64};
use std::path::{Path, PathBuf};

/// The fixed key of `.cargo/config.toml`.
const KEY: &str = "identity-server";

/// The module path of every source file of the `app` crate (`app::pages::consent`, ...).
fn app_modules() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
    let mut files = vec![];
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => folders.push(path),
                false if path.extension().is_some_and(|e| e == "rs") => files.push(path),
                false => {}
            }
        }
    }
    files
        .iter()
        .map(|file| {
            let relative: PathBuf = file.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            std::iter::once("app".to_owned())
                .chain(parts)
                .collect::<Vec<_>>()
                .join("::")
        })
        .collect()
}

fn hashed(key: &str, module: &str) -> String {
    xxh64(format!("{key}:{module}").as_bytes(), 0).to_string()
}

#[test]
fn server_function_urls_come_from_the_fixed_key_not_the_checkout_path() {
    let modules = app_modules();
    let checkout = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../app"))
        .unwrap()
        .display()
        .to_string();
    let paths: Vec<&str> = server_fn_paths().map(|(path, _)| path).collect();
    assert!(paths.len() >= 20, "{paths:?}");
    for path in paths {
        assert!(path.starts_with("/api/"), "{path}");
        let from_key = modules.iter().any(|m| path.ends_with(&hashed(KEY, m)));
        let from_checkout = modules
            .iter()
            .any(|m| path.ends_with(&hashed(&checkout, m)));
        assert!(from_key, "{path}: not hashed from {KEY:?}");
        assert!(!from_checkout, "{path}: hashed from the checkout's path");
    }
}
