//! Storage, app identity and env from JavaScript.

use super::*;

#[tokio::test]
async fn kv_from_javascript() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var kv = fazt.storage.kv;\nkv.set('user:1', {name: 'ann'});\nkv.set('user:2', {name: 'bob'});\nkv.set('other', 3);\nvar got = kv.get('user:1');\nvar missing = kv.get('nope');\nvar listed = kv.list('user:');\nvar all = kv.list().length;\nvar deleted = kv.delete('user:2');\nvar deletedAgain = kv.delete('user:2');\n({got: got, missing: missing === undefined, listed: listed, all: all, deleted: deleted,\n  deletedAgain: deletedAgain, after: kv.get('user:2') === undefined, other: kv.get('other')})")
            .await;
        assert_eq!(
            body,
            json!({"got": {"name": "ann"}, "missing": true,
                "listed": [{"key": "user:1", "value": {"name": "ann"}},
                           {"key": "user:2", "value": {"name": "bob"}}],
                "all": 3, "deleted": true, "deletedAgain": false, "after": true, "other": 3})
        );
        // It is in storage, under the app's id.
        let scope = f.storage.scope("t", Deadline::NONE);
        assert_eq!(
            scope.kv_get("user:1").await.unwrap(),
            Some(json!({"name": "ann"}))
        );
        assert_eq!(
            f.storage
                .scope("someone-else", Deadline::NONE)
                .kv_get("user:1")
                .await
                .unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn ds_from_javascript() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var ds = fazt.storage.ds;\nvar id = ds.insert('posts', {title: 'a', likes: 1});\nvar named = ds.insert('posts', {id: 'p2', title: 'b', likes: 5});\nvar found = ds.find('posts', {likes: {$gte: 1}}, {order: 'asc'});\nvar one = ds.findOne('posts', id);\nvar updated = ds.update('posts', {title: 'a'}, {$inc: {likes: 2}});\nvar likes = ds.findOne('posts', {title: 'a'}).likes;\nvar count = ds.count('posts', {});\nvar big = ds.count('posts', {likes: {$gt: 4}});\nvar removed = ds.delete('posts', {title: 'b'});\n({idType: typeof id, named: named, titles: found.map(function (d) { return d.title }),\n  hasMeta: typeof found[0]._createdAt === 'number' && found[0].id === id,\n  one: one.title, updated: updated, likes: likes, count: count, big: big, removed: removed,\n  countAfter: ds.count('posts'), none: ds.findOne('posts', 'p2')})")
            .await;
        assert_eq!(
            body,
            json!({"idType": "string", "named": "p2", "titles": ["a", "b"], "hasMeta": true,
                "one": "a", "updated": 1, "likes": 3, "count": 2, "big": 1, "removed": 1,
                "countAfter": 1, "none": null})
        );
    })
    .await;
}

#[tokio::test]
async fn s3_from_javascript() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var s3 = fazt.storage.s3;\ns3.put('img/a.txt', 'hello', 'text/plain');\ns3.put('img/b.txt', 'bye');\ns3.put('doc/c.txt', 'other');\nvar blob = s3.get('img/a.txt');\n({data: blob.data, mime: blob.mime, size: blob.size, hashed: typeof blob.hash,\n  listed: s3.list('img/').map(function (b) { return b.path + ':' + b.size }),\n  missing: s3.get('nope'), deleted: s3.delete('img/b.txt'), left: s3.list().length})")
            .await;
        assert_eq!(
            body,
            json!({"data": "hello", "mime": "text/plain", "size": 5, "hashed": "string",
                "listed": ["img/a.txt:5", "img/b.txt:3"], "missing": null, "deleted": true,
                "left": 2})
        );
    })
    .await;
}

#[tokio::test]
async fn fazt_app_aliases_the_storage_namespaces() {
    local(async {
        let f = Fixture::new().await;
        let body = f
            .body("var a = fazt.app;\na.kv.set('k', 'via app');\na.ds.insert('c', {id: 'd1', v: 1});\na.s3.put('f.txt', 'blob');\n({same: a.kv === fazt.storage.kv && a.ds === fazt.storage.ds && a.s3 === fazt.storage.s3,\n  kv: fazt.storage.kv.get('k'), ds: fazt.storage.ds.findOne('c', 'd1').v,\n  s3: fazt.storage.s3.get('f.txt').data})")
            .await;
        assert_eq!(
            body,
            json!({"same": true, "kv": "via app", "ds": 1, "s3": "blob"})
        );
        // Across executions too.
        assert_eq!(f.body("fazt.app.kv.get('k')").await, json!("via app"));
    })
    .await;
}

#[tokio::test]
async fn fazt_app_identity_and_env() {
    local(async {
        let f = Fixture::new().await;
        let mut code = AppCode {
            id: "blog".into(),
            name: "My Blog".into(),
            ..AppCode::default()
        };
        code.files.insert(
            AppCode::MAIN.into(),
            "({id: fazt.app.id, name: fazt.app.name, key: fazt.env.get('API_KEY'),\n  fallback: fazt.env.get('MISSING', 'dflt'), undef: fazt.env.get('MISSING') === undefined,\n  has: fazt.env.has('API_KEY'), hasNot: fazt.env.has('MISSING')})"
                .into(),
        );
        code.env.insert("API_KEY".into(), "secret".into());
        let body = f.ok(&Arc::new(code)).await.response.body;
        assert_eq!(
            body,
            json!({"id": "blog", "name": "My Blog", "key": "secret", "fallback": "dflt",
                "undef": true, "has": true, "hasNot": false})
        );
        // Another app on the same runtime sees its own identity and env.
        let body = f
            .body("({id: fazt.app.id, key: fazt.env.get('API_KEY', 'none')})")
            .await;
        assert_eq!(body, json!({"id": "t", "key": "none"}));
    })
    .await;
}
