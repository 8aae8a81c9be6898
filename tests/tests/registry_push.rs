//! Push with berth, pull back on a clean root, run: through berth's own
//! registry server and Debian's docker-registry (with a password). Each
//! step's words are docker's, and skopeo (an independent client) reads
//! what berth pushed.

use std::process::Command;

use berth_tests::registry::{
    docker_with_config, registry_inspect, BerthRegistry, DockerRegistry, RegistryAuth,
};
use berth_tests::{ok, stdout, Daemon};

/// A two-layer image (busybox and a committed layer) named `name`.
fn two_layer_image(d: &Daemon, name: &str) {
    d.load_busybox();
    ok(&d.docker(&[
        "run",
        "--name",
        "mk",
        "busybox:latest",
        "sh",
        "-c",
        "echo pushed-layer > /marker",
    ]));
    ok(&d.docker(&["commit", "mk", name]));
    ok(&d.docker(&["rm", "mk"]));
}

#[test]
fn push_then_pull_on_a_clean_root_and_run() {
    let reg = BerthRegistry::start();
    let src = Daemon::start();
    let image = format!("{}/team/app:v1", reg.addr);
    two_layer_image(&src, &image);

    let out = src.berth(&["push", &image]);
    let text = ok(&out);
    assert!(
        text.contains(&format!(
            "The push refers to repository [{}/team/app]",
            reg.addr
        )),
        "{text}"
    );
    assert!(text.contains(": Pushed"), "{text}");
    let digest_line = text
        .lines()
        .find(|l| l.starts_with("v1: digest: sha256:"))
        .unwrap_or_else(|| panic!("no digest line: {text}"));
    let digest = digest_line.split_whitespace().nth(2).expect("digest");
    // The pushed manifest is one of the image's RepoDigests, as with dockerd.
    let pushed_digests = stdout(&src.docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &image,
    ]));
    assert!(
        pushed_digests.contains(&format!("{}/team/app@{digest}", reg.addr)),
        "{pushed_digests}"
    );

    // GET /distribution: the registry's descriptor and the platform.
    let (status, _, body) = src.http("GET", &format!("/distribution/{image}/json"), None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["Descriptor"]["digest"], digest);
    assert_eq!(
        v["Platforms"],
        serde_json::json!([{"architecture": "amd64", "os": "linux"}])
    );

    // An independent client sees the same image.
    let info = registry_inspect(&image, None);
    assert_eq!(info["Digest"], digest);
    assert_eq!(info["Layers"].as_array().map(Vec::len), Some(2));

    // Again: the registry has every layer.
    let text = ok(&src.berth(&["push", &image]));
    assert_eq!(text.matches("Layer already exists").count(), 2, "{text}");
    // To another repository of the registry: mounted, not uploaded.
    let other = format!("{}/other/app:v1", reg.addr);
    ok(&src.docker(&["tag", &image, &other]));
    let text = ok(&src.docker(&["push", &other]));
    assert_eq!(text.matches("Mounted from team/app").count(), 2, "{text}");
    assert!(!text.contains("Pushed"), "{text}");

    // A clean daemon pulls it with the docker CLI and runs it.
    let dst = Daemon::start();
    let out = dst.docker(&["pull", &image]);
    let text = ok(&out);
    assert!(text.contains(&format!("Digest: {digest}")), "{text}");
    assert!(
        text.contains(&format!("Status: Downloaded newer image for {image}")),
        "{text}"
    );
    let run = dst.docker(&["run", "--rm", &image, "cat", "/marker"]);
    assert_eq!(ok(&run), "pushed-layer\n");
    let digests = stdout(&dst.docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &image,
    ]));
    assert_eq!(
        digests.trim(),
        format!("[\"{}/team/app@{digest}\"]", reg.addr)
    );
    // Same image id on both sides: the config went through unchanged.
    let id = |d: &Daemon| stdout(&d.docker(&["image", "inspect", "--format", "{{.Id}}", &image]));
    assert_eq!(id(&src), id(&dst));
}

#[test]
fn push_refusals_are_dockers() {
    let d = Daemon::start();
    let out = d.docker(&["push", "127.0.0.1:1/none/such:v1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("An image does not exist locally with the tag: 127.0.0.1:1/none/such"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A registry that is not there: the push starts, then fails in-stream.
    d.load_busybox();
    ok(&d.docker(&["tag", "busybox:latest", "127.0.0.1:1/none/such:v1"]));
    let out = d.docker(&["push", "127.0.0.1:1/none/such:v1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The daemon still serves.
    ok(&d.docker(&["version"]));
}

/// berthd killed at each step of a pull: after a restart the image is
/// either whole (it runs) or absent (and a new pull gets it), and the
/// store check finds nothing wrong.
#[test]
fn a_pull_killed_at_any_step_leaves_the_image_whole_or_absent() {
    let reg = BerthRegistry::start();
    let src = Daemon::start();
    let image = format!("{}/crash/app:v1", reg.addr);
    two_layer_image(&src, &image);
    ok(&src.berth(&["push", &image]));
    drop(src);
    for point in [
        "image.layer-staged",
        "image.config-written",
        "image.layers-placed",
        "image.recorded",
    ] {
        let mut d = Daemon::start();
        d.restart_with_env(&[("FAILPOINTS", &format!("{point}=return"))]);
        let _ = d.docker(&["pull", &image]);
        let status = d.wait_exit(std::time::Duration::from_secs(30));
        assert!(
            status.is_some() && d.log().contains(&format!("crash point {point}:")),
            "berthd did not crash at {point}:\n{}",
            d.log()
        );
        d.restart();
        let present = d
            .docker(&["image", "inspect", "--format", "{{.Id}}", &image])
            .status
            .success();
        if !present {
            ok(&d.docker(&["pull", &image]));
        }
        let run = d.docker(&["run", "--rm", &image, "cat", "/marker"]);
        assert_eq!(ok(&run), "pushed-layer\n", "after {point}");
        d.kill9();
        assert_eq!(
            berth_tests::invariants::store_check(&d),
            Vec::<String>::new(),
            "after {point}"
        );
    }
}

/// The round trip against distribution 2.8 with a password:
/// `docker login` (POST /auth), push a multi-layer image with berth, pull it
/// back with a clean daemon, run it.
#[test]
fn docker_registry_with_a_password_round_trip() {
    let reg = DockerRegistry::start(RegistryAuth::Htpasswd {
        user: "alice".into(),
        password: "s3cret".into(),
    });
    let cfg = tempfile::tempdir().expect("config dir");
    let src = Daemon::start();
    let image = format!("{}/team/app:v1", reg.addr);
    two_layer_image(&src, &image);

    let login = |d: &Daemon, password: &str| {
        docker_with_config(
            d,
            cfg.path(),
            &["login", "-u", "alice", "--password-stdin", &reg.addr],
            password.as_bytes(),
        )
    };
    let bad = login(&src, "wrong");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(&format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            reg.addr
        )),
        "{err}"
    );
    let good = login(&src, "s3cret");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("Login Succeeded"));

    let push = Command::new(berth_tests::bin_dir().join("berth"))
        .args(["push", &image])
        .env("DOCKER_HOST", src.host())
        .env("DOCKER_CONFIG", cfg.path())
        .output()
        .expect("berth push");
    let text = ok(&push);
    assert_eq!(text.matches(": Pushed").count(), 2, "{text}");
    let info = registry_inspect(&image, Some("alice:s3cret"));
    assert_eq!(info["Layers"].as_array().map(Vec::len), Some(2));

    let dst = Daemon::start();
    let pull = docker_with_config(&dst, cfg.path(), &["pull", &image], b"");
    let text = ok(&pull);
    assert!(
        text.contains(&format!("Status: Downloaded newer image for {image}")),
        "{text}"
    );
    assert_eq!(
        ok(&dst.docker(&["run", "--rm", &image, "cat", "/marker"])),
        "pushed-layer\n"
    );
    // Without the login: dockerd's words, and no prompt.
    let anon = dst.docker(&["pull", &format!("{}/team/app:v2", reg.addr)]);
    assert_eq!(anon.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&anon.stderr).contains("no basic auth credentials"),
        "{}",
        String::from_utf8_lossy(&anon.stderr)
    );
}
