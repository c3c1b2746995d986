//! The same storage test body against the OS's files and the simulated disk, outside
//! turmoil: the simulated disk must behave as a file system does for everything the
//! engine does (WAL mode, its shared-memory index, locks between connections, reopen).

use std::path::Path;

use fazt_engine::config::Config;
use fazt_engine::env::{Deadline, Disk, Env, Rng};
use fazt_engine::storage::{Db, Durability, Storage};
use fazt_sim::disk::{SimDisk, NVME};
use serde_json::json;

/// Writes through one storage engine, reads back through another after the first is
/// gone, checks the database: what any disk must support.
async fn storage_body(path: &Path, disk: Disk) {
    let env = Env {
        disk,
        ..Env::real()
    };
    let mut config = Config::hardened().storage;
    config.policy.durability = Durability::Full;
    {
        let storage = Storage::open(path, env.clone(), config.clone())
            .await
            .unwrap();
        let scope = storage.scope("app", Deadline::NONE);
        for n in 0..50 {
            scope
                .kv_set(&format!("k{n}"), &json!(n), None)
                .await
                .unwrap();
        }
        scope
            .ds_insert("items", &json!({"id": "x", "n": 1}))
            .await
            .unwrap();
        assert_eq!(scope.kv_get("k7").await.unwrap(), Some(json!(7)));
        storage.shutdown().await;
    }
    let storage = Storage::open(path, env.clone(), config).await.unwrap();
    let scope = storage.scope("app", Deadline::NONE);
    assert_eq!(scope.kv_get("k49").await.unwrap(), Some(json!(49)));
    let db = Db::open_on(path, &env.disk).unwrap();
    let (mode, check): (String, String) = (
        db.conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap(),
        db.conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap(),
    );
    assert_eq!((mode.as_str(), check.as_str()), ("wal", "ok"));
    storage.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_body_passes_on_the_os_files() {
    let dir = tempfile::tempdir().unwrap();
    storage_body(&dir.path().join("fazt.db"), Disk::Os).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_body_passes_on_the_simulated_disk() {
    let disk = SimDisk::new(NVME, Rng::seeded(1));
    storage_body(&disk.path("fazt.db"), SimDisk::seam()).await;
    assert!(disk.stats().syncs > 0, "durability full syncs commits");
}
