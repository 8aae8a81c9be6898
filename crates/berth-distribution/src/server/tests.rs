//! The router driven in-process, endpoint by endpoint.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use berth_store::Digest;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::Registry;

struct Reg {
    dir: tempfile::TempDir,
    router: Router,
}

fn registry() -> Reg {
    let dir = tempfile::tempdir().unwrap();
    let router = Registry::open(dir.path()).unwrap().router();
    Reg { dir, router }
}

impl Reg {
    async fn call(&self, method: Method, uri: &str, body: Vec<u8>) -> Response {
        self.call_with(method, uri, &[], body).await
    }

    async fn call_with(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap()
    }

    /// Pushes a blob in one request; returns its digest.
    async fn push_blob(&self, name: &str, data: &[u8]) -> Digest {
        let d = Digest::of_bytes(data);
        let uri = format!("/v2/{name}/blobs/uploads/?digest={d}");
        let resp = self.call(Method::POST, &uri, data.to_vec()).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        d
    }

    async fn put_manifest(&self, name: &str, reference: &str, manifest: &Value) -> Response {
        self.call_with(
            Method::PUT,
            &format!("/v2/{name}/manifests/{reference}"),
            &[("content-type", IMAGE)],
            manifest.to_string().into_bytes(),
        )
        .await
    }
}

const IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";

fn image_manifest(config: &Digest, layers: &[&Digest]) -> Value {
    let layers: Vec<Value> = layers
        .iter()
        .map(|d| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.as_str(), "size": 1}))
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": IMAGE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.as_str(), "size": 2},
        "layers": layers,
    })
}

fn hdr<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

async fn body(resp: Response) -> Vec<u8> {
    axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

async fn json_body(resp: Response) -> Value {
    serde_json::from_slice(&body(resp).await).unwrap()
}

/// Checks the spec's error form and returns its code.
async fn error_code(resp: Response, status: StatusCode) -> String {
    assert_eq!(resp.status(), status);
    let v = json_body(resp).await;
    v["errors"][0]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn base_answers_with_the_api_version() {
    let reg = registry();
    let resp = reg.call(Method::GET, "/v2/", vec![]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        hdr(&resp, "docker-distribution-api-version"),
        "registry/2.0"
    );
    let resp = reg.call(Method::GET, "/v1/", vec![]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn chunked_upload_then_get_head_delete() {
    let reg = registry();
    let resp = reg
        .call(Method::POST, "/v2/a/b/blobs/uploads/", vec![])
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let location = hdr(&resp, "location").to_string();
    let uuid = hdr(&resp, "docker-upload-uuid").to_string();
    assert_eq!(location, format!("/v2/a/b/blobs/uploads/{uuid}"));
    assert_eq!(hdr(&resp, "range"), "0-0");

    let resp = reg
        .call_with(
            Method::PATCH,
            &location,
            &[("content-range", "0-5")],
            b"hello ".to_vec(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(hdr(&resp, "range"), "0-5");
    // A chunk that does not continue the upload.
    let resp = reg
        .call_with(
            Method::PATCH,
            &location,
            &[("content-range", "3-5")],
            b"xyz".to_vec(),
        )
        .await;
    assert_eq!(
        error_code(resp, StatusCode::RANGE_NOT_SATISFIABLE).await,
        "RANGE_INVALID"
    );
    let resp = reg.call(Method::PATCH, &location, b"wor".to_vec()).await;
    assert_eq!(hdr(&resp, "range"), "0-8");
    let resp = reg.call(Method::GET, &location, vec![]).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(hdr(&resp, "range"), "0-8");

    let d = Digest::of_bytes(b"hello world");
    let resp = reg
        .call(
            Method::PUT,
            &format!("{location}?digest={d}"),
            b"ld".to_vec(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(hdr(&resp, "location"), format!("/v2/a/b/blobs/{d}"));
    assert_eq!(hdr(&resp, "docker-content-digest"), d.as_str());
    // The upload is gone once finished.
    let resp = reg.call(Method::GET, &location, vec![]).await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "BLOB_UPLOAD_UNKNOWN"
    );

    let blob = format!("/v2/a/b/blobs/{d}");
    let resp = reg.call(Method::HEAD, &blob, vec![]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(hdr(&resp, "content-length"), "11");
    assert_eq!(hdr(&resp, "docker-content-digest"), d.as_str());
    assert!(body(resp).await.is_empty());
    let resp = reg.call(Method::GET, &blob, vec![]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(resp).await, b"hello world");
    // Another repository does not have it.
    let resp = reg
        .call(Method::GET, &format!("/v2/other/blobs/{d}"), vec![])
        .await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "BLOB_UNKNOWN"
    );

    let resp = reg.call(Method::DELETE, &blob, vec![]).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = reg.call(Method::GET, &blob, vec![]).await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "BLOB_UNKNOWN"
    );
    let resp = reg.call(Method::DELETE, &blob, vec![]).await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "BLOB_UNKNOWN"
    );
}

#[tokio::test]
async fn wrong_digest_is_refused_and_stores_nothing() {
    let reg = registry();
    let wrong = Digest::of_bytes(b"something else");
    let uri = format!("/v2/r/blobs/uploads/?digest={wrong}");
    let resp = reg.call(Method::POST, &uri, b"data".to_vec()).await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "DIGEST_INVALID"
    );
    for d in [wrong, Digest::of_bytes(b"data")] {
        let resp = reg
            .call(Method::HEAD, &format!("/v2/r/blobs/{d}"), vec![])
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
    let resp = reg
        .call(
            Method::POST,
            "/v2/r/blobs/uploads/?digest=sha256:nothex",
            vec![],
        )
        .await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "DIGEST_INVALID"
    );
    let resp = reg.call(Method::GET, "/v2/r/blobs/md5:abc", vec![]).await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "DIGEST_INVALID"
    );

    // Finishing without a digest.
    let resp = reg.call(Method::POST, "/v2/r/blobs/uploads/", vec![]).await;
    let location = hdr(&resp, "location").to_string();
    let resp = reg.call(Method::PUT, &location, b"x".to_vec()).await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "DIGEST_INVALID"
    );
}

#[tokio::test]
async fn cancelled_and_unknown_uploads() {
    let reg = registry();
    let resp = reg.call(Method::POST, "/v2/r/blobs/uploads/", vec![]).await;
    let location = hdr(&resp, "location").to_string();
    let resp = reg.call(Method::DELETE, &location, vec![]).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = reg.call(Method::PATCH, &location, b"x".to_vec()).await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "BLOB_UPLOAD_UNKNOWN"
    );
    // An id that is no upload of ours, nor a way out of the upload directory.
    for id in ["..", "0123", "%2e%2e"] {
        let resp = reg
            .call(Method::GET, &format!("/v2/r/blobs/uploads/{id}"), vec![])
            .await;
        assert_eq!(
            error_code(resp, StatusCode::NOT_FOUND).await,
            "BLOB_UPLOAD_UNKNOWN"
        );
    }
    // An upload of one repository is not one of another.
    let resp = reg.call(Method::POST, "/v2/r/blobs/uploads/", vec![]).await;
    let uuid = hdr(&resp, "docker-upload-uuid").to_string();
    let resp = reg
        .call(Method::GET, &format!("/v2/s/blobs/uploads/{uuid}"), vec![])
        .await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "BLOB_UPLOAD_UNKNOWN"
    );
}

#[tokio::test]
async fn cross_repository_mount() {
    let reg = registry();
    let d = reg.push_blob("src", b"layer").await;
    let uri = format!("/v2/dst/blobs/uploads/?mount={d}&from=src");
    let resp = reg.call(Method::POST, &uri, vec![]).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(hdr(&resp, "location"), format!("/v2/dst/blobs/{d}"));
    let resp = reg
        .call(Method::GET, &format!("/v2/dst/blobs/{d}"), vec![])
        .await;
    assert_eq!(body(resp).await, b"layer");
    // A source without the blob: an ordinary upload starts instead.
    let missing = Digest::of_bytes(b"missing");
    let uri = format!("/v2/dst/blobs/uploads/?mount={missing}&from=src");
    let resp = reg.call(Method::POST, &uri, vec![]).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(hdr(&resp, "location").starts_with("/v2/dst/blobs/uploads/"));
}

#[tokio::test]
async fn bad_names_are_refused() {
    let reg = registry();
    let d = Digest::of_bytes(b"x");
    for name in ["UPPER", "a/../b", "..", "a/_uploads", "a//b", "-a"] {
        for uri in [
            format!("/v2/{name}/blobs/{d}"),
            format!("/v2/{name}/manifests/latest"),
            format!("/v2/{name}/tags/list"),
            format!("/v2/{name}/blobs/uploads/"),
        ] {
            let method = if uri.ends_with("uploads/") {
                Method::POST
            } else {
                Method::GET
            };
            let resp = reg.call(method, &uri, vec![]).await;
            assert_eq!(
                error_code(resp, StatusCode::BAD_REQUEST).await,
                "NAME_INVALID",
                "{uri}"
            );
        }
    }
    // A mount source is a name too.
    let uri = format!("/v2/ok/blobs/uploads/?mount={d}&from=../x");
    let resp = reg.call(Method::POST, &uri, vec![]).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn manifest_put_get_head_delete() {
    let reg = registry();
    let config = reg.push_blob("img", b"{}").await;
    let layer = reg.push_blob("img", b"layer").await;
    let manifest = image_manifest(&config, &[&layer]);
    let bytes = manifest.to_string().into_bytes();
    let digest = Digest::of_bytes(&bytes);

    let resp = reg.put_manifest("img", "v1", &manifest).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(hdr(&resp, "docker-content-digest"), digest.as_str());
    assert_eq!(
        hdr(&resp, "location"),
        format!("/v2/img/manifests/{digest}")
    );

    for reference in ["v1".to_string(), digest.to_string()] {
        let uri = format!("/v2/img/manifests/{reference}");
        let resp = reg.call(Method::GET, &uri, vec![]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(hdr(&resp, "content-type"), IMAGE);
        assert_eq!(hdr(&resp, "docker-content-digest"), digest.as_str());
        assert_eq!(body(resp).await, bytes);
        let resp = reg.call(Method::HEAD, &uri, vec![]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(hdr(&resp, "content-length"), bytes.len().to_string());
    }
    // A manifest is a blob of its repository too.
    let resp = reg
        .call(Method::HEAD, &format!("/v2/img/blobs/{digest}"), vec![])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = reg.call(Method::GET, "/v2/img/manifests/v2", vec![]).await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "MANIFEST_UNKNOWN"
    );
    let resp = reg
        .call(Method::GET, "/v2/nothere/manifests/v1", vec![])
        .await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "NAME_UNKNOWN"
    );

    // By digest: the content must match.
    let other = Digest::of_bytes(b"other");
    let resp = reg.put_manifest("img", other.as_str(), &manifest).await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "DIGEST_INVALID"
    );
    let resp = reg.put_manifest("img", digest.as_str(), &manifest).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    let resp = reg
        .call(
            Method::DELETE,
            &format!("/v2/img/manifests/{digest}"),
            vec![],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    for reference in ["v1".to_string(), digest.to_string()] {
        let uri = format!("/v2/img/manifests/{reference}");
        let resp = reg.call(Method::GET, &uri, vec![]).await;
        assert_eq!(
            error_code(resp, StatusCode::NOT_FOUND).await,
            "MANIFEST_UNKNOWN"
        );
    }
    let resp = reg
        .call(
            Method::DELETE,
            &format!("/v2/img/manifests/{digest}"),
            vec![],
        )
        .await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "MANIFEST_UNKNOWN"
    );
}

#[tokio::test]
async fn manifest_with_missing_blob_is_refused() {
    let reg = registry();
    let config = reg.push_blob("img", b"{}").await;
    let missing = Digest::of_bytes(b"never pushed");
    let resp = reg
        .put_manifest("img", "v1", &image_manifest(&config, &[&missing]))
        .await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "MANIFEST_BLOB_UNKNOWN"
    );
    // A blob of another repository does not count.
    let layer = reg.push_blob("elsewhere", b"layer").await;
    let resp = reg
        .put_manifest("img", "v1", &image_manifest(&config, &[&layer]))
        .await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "MANIFEST_BLOB_UNKNOWN"
    );
    // An index naming a manifest the repository lacks.
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": IMAGE, "digest": missing.as_str(), "size": 1}]});
    let resp = reg.put_manifest("img", "idx", &index).await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "MANIFEST_BLOB_UNKNOWN"
    );
    let resp = reg.call(Method::GET, "/v2/img/tags/list", vec![]).await;
    assert_eq!(json_body(resp).await["tags"], json!([]));
}

#[tokio::test]
async fn invalid_and_oversized_manifests() {
    let reg = registry();
    let resp = reg
        .call_with(
            Method::PUT,
            "/v2/img/manifests/v1",
            &[("content-type", IMAGE)],
            b"not json".to_vec(),
        )
        .await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "MANIFEST_INVALID"
    );
    let resp = reg
        .put_manifest("img", "v1", &json!({"schemaVersion": 1}))
        .await;
    assert_eq!(
        error_code(resp, StatusCode::BAD_REQUEST).await,
        "MANIFEST_INVALID"
    );
    let resp = reg
        .put_manifest("img", ".bad-tag", &json!({"schemaVersion": 2}))
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let big = vec![b' '; super::MANIFEST_MAX + 1];
    let resp = reg
        .call_with(
            Method::PUT,
            "/v2/img/manifests/v1",
            &[("content-type", IMAGE)],
            big,
        )
        .await;
    assert_eq!(
        error_code(resp, StatusCode::PAYLOAD_TOO_LARGE).await,
        "SIZE_INVALID"
    );
}

#[tokio::test]
async fn tags_and_catalog_paginate() {
    let reg = registry();
    let config = reg.push_blob("x/img", b"{}").await;
    let manifest = image_manifest(&config, &[]);
    for tag in ["c", "a", "b"] {
        let resp = reg.put_manifest("x/img", tag, &manifest).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let config = reg.push_blob("y", b"{}").await;
    reg.put_manifest("y", "1", &image_manifest(&config, &[]))
        .await;
    // Blobs alone do not make a repository of the catalog.
    reg.push_blob("blobsonly", b"z").await;

    let resp = reg.call(Method::GET, "/v2/x/img/tags/list", vec![]).await;
    assert_eq!(
        json_body(resp).await,
        json!({"name": "x/img", "tags": ["a", "b", "c"]})
    );
    let resp = reg
        .call(Method::GET, "/v2/x/img/tags/list?n=2", vec![])
        .await;
    assert_eq!(
        hdr(&resp, "link"),
        "</v2/x/img/tags/list?n=2&last=b>; rel=\"next\""
    );
    assert_eq!(json_body(resp).await["tags"], json!(["a", "b"]));
    let resp = reg
        .call(Method::GET, "/v2/x/img/tags/list?n=2&last=b", vec![])
        .await;
    assert!(resp.headers().get("link").is_none());
    assert_eq!(json_body(resp).await["tags"], json!(["c"]));
    let resp = reg.call(Method::GET, "/v2/none/tags/list", vec![]).await;
    assert_eq!(
        error_code(resp, StatusCode::NOT_FOUND).await,
        "NAME_UNKNOWN"
    );

    let resp = reg.call(Method::GET, "/v2/_catalog", vec![]).await;
    assert_eq!(
        json_body(resp).await,
        json!({"repositories": ["x/img", "y"]})
    );
    let resp = reg.call(Method::GET, "/v2/_catalog?n=1", vec![]).await;
    assert_eq!(
        hdr(&resp, "link"),
        "</v2/_catalog?n=1&last=x/img>; rel=\"next\""
    );
    assert_eq!(json_body(resp).await["repositories"], json!(["x/img"]));

    // Deleting a tag keeps the manifest.
    let resp = reg
        .call(Method::DELETE, "/v2/x/img/manifests/a", vec![])
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = reg.call(Method::GET, "/v2/x/img/tags/list", vec![]).await;
    assert_eq!(json_body(resp).await["tags"], json!(["b", "c"]));
    let resp = reg.call(Method::GET, "/v2/x/img/manifests/b", vec![]).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn referrers_list_manifests_with_a_subject() {
    let reg = registry();
    let config = reg.push_blob("img", b"{}").await;
    let subject = image_manifest(&config, &[]);
    let subject_digest = Digest::of_bytes(subject.to_string().as_bytes());
    reg.put_manifest("img", "v1", &subject).await;

    let uri = format!("/v2/img/referrers/{subject_digest}");
    let resp = reg.call(Method::GET, &uri, vec![]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        hdr(&resp, "content-type"),
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(json_body(resp).await["manifests"], json!([]));

    let mut sig = image_manifest(&config, &[]);
    sig["artifactType"] = json!("application/example.sig");
    sig["subject"] = json!({"mediaType": IMAGE, "digest": subject_digest.as_str(), "size": 1});
    sig["annotations"] = json!({"k": "v"});
    let sig_bytes = sig.to_string();
    let sig_digest = Digest::of_bytes(sig_bytes.as_bytes());
    let resp = reg.put_manifest("img", sig_digest.as_str(), &sig).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(hdr(&resp, "oci-subject"), subject_digest.as_str());

    let resp = reg.call(Method::GET, &uri, vec![]).await;
    let index = json_body(resp).await;
    assert_eq!(
        index["manifests"],
        json!([{"mediaType": IMAGE, "digest": sig_digest.as_str(), "size": sig_bytes.len(),
            "artifactType": "application/example.sig", "annotations": {"k": "v"}}])
    );
    let resp = reg
        .call(Method::GET, &format!("{uri}?artifactType=other"), vec![])
        .await;
    assert_eq!(hdr(&resp, "oci-filters-applied"), "artifactType");
    assert_eq!(json_body(resp).await["manifests"], json!([]));

    let resp = reg
        .call(
            Method::DELETE,
            &format!("/v2/img/manifests/{sig_digest}"),
            vec![],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = reg.call(Method::GET, &uri, vec![]).await;
    assert_eq!(json_body(resp).await["manifests"], json!([]));
}

#[tokio::test]
async fn unsupported_methods() {
    let reg = registry();
    let resp = reg.call(Method::PUT, "/v2/img/tags/list", vec![]).await;
    assert_eq!(
        error_code(resp, StatusCode::METHOD_NOT_ALLOWED).await,
        "UNSUPPORTED"
    );
    let resp = reg
        .call(
            Method::POST,
            &format!("/v2/img/blobs/{}", Digest::of_bytes(b"")),
            vec![],
        )
        .await;
    assert_eq!(
        error_code(resp, StatusCode::METHOD_NOT_ALLOWED).await,
        "UNSUPPORTED"
    );
}

#[test]
fn routes() {
    use super::{route, Route};
    assert_eq!(route("/v2/"), Some(Route::Base));
    assert_eq!(route("/v2"), Some(Route::Base));
    assert_eq!(route("/v2/_catalog"), Some(Route::Catalog));
    assert_eq!(route("/v2/a/b/tags/list"), Some(Route::Tags("a/b")));
    assert_eq!(route("/v2/a/blobs/uploads/"), Some(Route::Uploads("a")));
    assert_eq!(route("/v2/a/blobs/uploads"), Some(Route::Uploads("a")));
    assert_eq!(
        route("/v2/a/blobs/uploads/u"),
        Some(Route::Upload("a", "u"))
    );
    assert_eq!(route("/v2/a/blobs/d"), Some(Route::Blob("a", "d")));
    assert_eq!(
        route("/v2/a/manifests/blobs/x/manifests/t"),
        Some(Route::Manifest("a/manifests/blobs/x", "t"))
    );
    assert_eq!(route("/v2/a/referrers/d"), Some(Route::Referrers("a", "d")));
    assert_eq!(route("/v2/a/manifests/t/"), None);
    assert_eq!(route("/v2/a/other/t"), None);
}

#[tokio::test]
async fn blob_ranges() {
    let reg = registry();
    let d = reg.push_blob("r", b"0123456789").await;
    let uri = format!("/v2/r/blobs/{d}");
    for (range, part, content_range) in [
        ("bytes=2-4", &b"234"[..], "bytes 2-4/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-2", b"89", "bytes 8-9/10"),
        ("bytes=8-99", b"89", "bytes 8-9/10"),
    ] {
        let resp = reg
            .call_with(Method::GET, &uri, &[("range", range)], vec![])
            .await;
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(hdr(&resp, "content-range"), content_range);
        assert_eq!(hdr(&resp, "content-length"), part.len().to_string());
        assert_eq!(body(resp).await, part, "{range}");
    }
    for range in ["bytes=10-", "bytes=5-2", "items=0-1", "bytes=0-1,3-4"] {
        let resp = reg
            .call_with(Method::GET, &uri, &[("range", range)], vec![])
            .await;
        assert_eq!(
            error_code(resp, StatusCode::RANGE_NOT_SATISFIABLE).await,
            "RANGE_INVALID",
            "{range}"
        );
    }
}

#[tokio::test]
async fn state_survives_a_restart_and_crash_leftovers_are_ignored() {
    let reg = registry();
    let config = reg.push_blob("img", b"{}").await;
    reg.put_manifest("img", "v1", &image_manifest(&config, &[]))
        .await;
    let resp = reg
        .call(Method::POST, "/v2/img/blobs/uploads/", vec![])
        .await;
    let location = hdr(&resp, "location").to_string();
    reg.call(Method::PATCH, &location, b"part".to_vec()).await;
    // What a crash between a temp write and its rename leaves behind.
    let root = reg.dir.path();
    std::fs::create_dir_all(root.join("repositories/ghost/_manifests")).unwrap();
    std::fs::write(root.join("repositories/ghost/_manifests/.tmp-1"), b"x").unwrap();
    std::fs::write(root.join("repositories/img/_tags/.tmp-2"), b"x").unwrap();

    let again = Registry::open(root).unwrap().router();
    let reg = Reg {
        dir: reg.dir,
        router: again,
    };
    let resp = reg.call(Method::GET, "/v2/img/manifests/v1", vec![]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = reg.call(Method::GET, &location, vec![]).await;
    assert_eq!(hdr(&resp, "range"), "0-3");
    let resp = reg.call(Method::GET, "/v2/_catalog", vec![]).await;
    assert_eq!(json_body(resp).await["repositories"], json!(["img"]));
    let resp = reg.call(Method::GET, "/v2/img/tags/list", vec![]).await;
    assert_eq!(json_body(resp).await["tags"], json!(["v1"]));
}

#[tokio::test]
async fn basic_auth_guards_every_endpoint() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("pw", 4).unwrap();
    let users = super::Htpasswd::parse(&format!("bob:{hash}\n")).unwrap();
    let router = Registry::open(dir.path())
        .unwrap()
        .with_htpasswd(users)
        .router();
    let reg = Reg { dir, router };
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    for auth in [None, Some(basic("bob", "nope")), Some(basic("eve", "pw"))] {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        for uri in ["/v2/", "/v2/a/manifests/latest", "/v2/_catalog"] {
            let resp = reg.call_with(Method::GET, uri, &headers, Vec::new()).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{uri} {auth:?}");
            assert_eq!(
                resp.headers()["www-authenticate"],
                "Basic realm=\"berth-registry\""
            );
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
        }
    }
    let good = basic("bob", "pw");
    for _ in 0..2 {
        // The second time from the cache of verified passwords.
        let resp = reg
            .call_with(Method::GET, "/v2/", &[("authorization", &good)], Vec::new())
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

#[test]
fn htpasswd_files_hold_bcrypt_entries_only() {
    assert!(super::Htpasswd::parse("# none\n\n").is_ok());
    for bad in ["bob:{SHA}abc", "bob:$apr1$x$y", "bob:plain", "nocolon"] {
        assert!(super::Htpasswd::parse(bad).is_err(), "{bad}");
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(super::Htpasswd::load(&dir.path().join("missing")).is_err());
}
