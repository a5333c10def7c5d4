//! The real binary against a loopback OpenAI-compatible server:
//! `agentctl run … --provider openai --base-url …`, config files, and
//! `agentctl providers check`.

mod mock_openai;

use std::path::Path;
use std::process::Output;

use mock_openai::*;
use serde_json::Value;

const KEY: &str = "sk-e2e-MARKER-0123456789abcdef";

/// Runs the binary with a clean environment: no user config, a marker key.
async fn agentctl(args: &[&str], home: &Path, key: Option<&str>) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentctl"));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .kill_on_drop(true);
    if let Some(k) = key {
        cmd.env("OPENAI_API_KEY", k);
    }
    cmd.output().await.expect("run agentctl")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn run_research_report_against_the_server() {
    // Call n (from 0) reports usage (100 + n, 10 + n), so the run's total
    // proves every call's usage was counted exactly once.
    let server = MockServer::start(|r, n| {
        let n = n as u64;
        let who = r.body["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .to_string();
        sse_reply(
            &["answer from ", &who[..who.len().min(20)]],
            Some((100 + n, 10 + n)),
        )
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let wf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/workflows/research_report.toml"
    );
    let base = server.base_url();
    let out = agentctl(
        &[
            "run",
            wf,
            "--provider",
            "openai",
            "--base-url",
            &base,
            "--model",
            "test",
            "--json",
        ],
        home.path(),
        Some(KEY),
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stdout.contains("MARKER") && !stderr.contains("MARKER"));
    let summary: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["tasks_completed"], 3);
    let calls = server.chat_requests();
    assert_eq!(calls.len(), 3, "one request per agent call");
    assert_eq!(summary["tokens"]["prompt"], 100 + 101 + 102);
    assert_eq!(summary["tokens"]["completion"], 10 + 11 + 12);
    for c in &calls {
        assert_eq!(c.body["model"], "test");
        assert_eq!(
            c.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
    // The writer got the analyst's output, which got the researcher's.
    let last = calls[2].body["messages"].to_string();
    assert!(last.contains("answer from"), "{last}");
    // The session log has every call's usage as the server reported it,
    // and no trace of the key.
    let file = summary["session_file"]
        .as_str()
        .expect("the run was recorded");
    let log = std::fs::read_to_string(file).unwrap();
    assert!(!log.contains("MARKER"), "the key reached the session file");
    let usages: Vec<(u64, u64)> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "llm_response")
        .map(|e| {
            (
                e["usage"]["prompt_tokens"].as_u64().unwrap(),
                e["usage"]["completion_tokens"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(usages, [(100, 10), (101, 11), (102, 12)]);
}

#[tokio::test]
async fn a_config_file_key_never_reaches_the_session_or_its_exports() {
    let server = MockServer::start(|_, _| sse_reply(&["fine"], Some((5, 1)))).await;
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("agentctl.toml");
    std::fs::write(
        &cfg,
        format!(
            "[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"{KEY}\"\nmodel = \"test\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let wf_path = home.path().join("flow.toml");
    std::fs::write(
        &wf_path,
        "[workflow]\nname = \"t\"\ninput = \"x\"\n[[agents]]\nid = \"w\"\nprovider = \"local\"\n[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"w\"\nprompt = \"hi\"\n",
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();
    let out = agentctl(
        &[
            "run",
            wf_path.to_str().unwrap(),
            "--config",
            cfg_s,
            "--json",
        ],
        home.path(),
        None,
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stdout.contains("MARKER") && !stderr.contains("MARKER"));
    // The key was used (the server saw it) ...
    assert_eq!(
        server.chat_requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // ... and is in no session file or export.
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let file = summary["session_file"]
        .as_str()
        .expect("recorded")
        .to_string();
    assert!(!std::fs::read_to_string(&file).unwrap().contains("MARKER"));
    for format in ["md", "json"] {
        let out = agentctl(
            &["sessions", "export", &file, "--format", format],
            home.path(),
            None,
        )
        .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stdout.contains("fine") && !stdout.contains("MARKER"),
            "{format}: {stdout}"
        );
    }
}

#[tokio::test]
async fn run_with_a_configured_provider_and_failing_key() {
    let server =
        MockServer::start(|_, _| error(401, &format!("Incorrect API key provided: {KEY}"))).await;
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("agentctl.toml");
    std::fs::write(
        &cfg,
        format!(
            "[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"AGENTCTL_TEST_KEY\"\nmodel = \"test\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    let wf_path = home.path().join("flow.toml");
    std::fs::write(
        &wf_path,
        "[workflow]\nname = \"t\"\ninput = \"x\"\n[[agents]]\nid = \"w\"\nprovider = \"local\"\n[[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"w\"\nprompt = \"hi\"\n",
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentctl"));
    let out = cmd
        .args([
            "run",
            wf_path.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--json",
        ])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("AGENTCTL_TEST_KEY", KEY)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stdout.contains("MARKER") && !stderr.contains("MARKER"),
        "{stdout}{stderr}"
    );
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let err = summary["error"].to_string();
    assert!(err.contains("401") && err.contains("API key"), "{err}");
    // Fatal: exactly one request, no retry.
    assert_eq!(server.chat_requests().len(), 1);
    // The config file is world-readable here (default umask): warned.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = agentctl(
            &[
                "validate",
                wf_path.to_str().unwrap(),
                "--config",
                cfg.to_str().unwrap(),
            ],
            home.path(),
            None,
        )
        .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert!(stderr.contains("readable by other users"), "{stderr}");
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Without the config, `local` is an unknown provider, located in the file.
    let out = agentctl(&["validate", wf_path.to_str().unwrap()], home.path(), None).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown provider `local`") && stderr.contains("flow.toml:6"),
        "{stderr}"
    );
}

#[tokio::test]
async fn bad_override_and_bad_config_are_bad_input() {
    let home = tempfile::tempdir().unwrap();
    let out = agentctl(
        &["run", "builtin:pipeline", "--provider", "opena1", "--json"],
        home.path(),
        None,
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("--provider opena1") && stderr.contains("known providers"),
        "{stderr}"
    );
    let cfg = home.path().join("bad.toml");
    std::fs::write(
        &cfg,
        format!("[providers.x]\nkind = \"openai\"\napi_key = \"{KEY}\"\nbase_ulr = 3\n"),
    )
    .unwrap();
    let out = agentctl(
        &[
            "run",
            "builtin:pipeline",
            "--config",
            cfg.to_str().unwrap(),
            "--json",
        ],
        home.path(),
        None,
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.toml") && stderr.contains("base_ulr"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("MARKER") && !stderr.contains("MARKER"),
        "{stderr}"
    );
}

#[tokio::test]
async fn providers_check_working_wrong_model_wrong_key() {
    let server = MockServer::start(|r, _| {
        let auth_ok = r.header("authorization") == Some(&format!("Bearer {KEY}"));
        if !auth_ok {
            return error(401, "Incorrect API key provided: sk-wr***ng");
        }
        if r.path.ends_with("/models") {
            return models(&["test", "other"]);
        }
        if r.body["model"] != "test" {
            return error(
                404,
                &format!(
                    "The model `{}` does not exist",
                    r.body["model"].as_str().unwrap_or("")
                ),
            );
        }
        assert_eq!(r.body["max_tokens"], 1);
        sse_reply(&["ok"], Some((12, 1)))
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let base = server.base_url();

    // Working.
    let out = agentctl(
        &[
            "providers",
            "check",
            "openai",
            "--base-url",
            &base,
            "--model",
            "test",
        ],
        home.path(),
        Some(KEY),
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("✓ list models: 2 models") && stdout.contains("(includes test)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ completion with test: 12 prompt + 1 completion tokens"),
        "{stdout}"
    );
    assert!(!stdout.contains("MARKER") && !stderr.contains("MARKER"));

    // Wrong model.
    let out = agentctl(
        &[
            "providers",
            "check",
            "openai",
            "--base-url",
            &base,
            "--model",
            "gpt-nope",
        ],
        home.path(),
        Some(KEY),
    )
    .await;
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("`gpt-nope` is not among them"), "{stdout}");
    assert!(
        stdout.contains("✗ completion with gpt-nope") && stdout.contains("HTTP 404"),
        "{stdout}"
    );
    assert!(stdout.contains("model name is wrong"), "{stdout}");

    // Wrong key.
    let out = agentctl(
        &[
            "providers",
            "check",
            "openai",
            "--base-url",
            &base,
            "--model",
            "test",
        ],
        home.path(),
        Some("sk-wrong-MARKER-aaaaaaaaaaaaaaaa"),
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ list models") && stdout.contains("HTTP 401"),
        "{stdout}"
    );
    assert!(stdout.contains("API key is missing or wrong"), "{stdout}");
    assert!(!stdout.contains("MARKER") && !stderr.contains("MARKER"));
}
