//! A session recorded with a provider from `config.toml` (an openai-kind
//! `local` pointing at a loopback server) is read back with no config at
//! all: `replay`, `sessions show` and `sessions export` all exit 0, since
//! none of them calls a provider.

mod mock_openai;
mod tmux;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use mock_openai::*;
use tmux::Tmux;

/// `agentctl ARGS` with HOME and the config dirs in `home` (so no user
/// config is found) and sessions in `sessions`.
async fn agentctl(args: &[&str], home: &Path, sessions: &Path) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_agentctl"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("AGENTCTL_SESSION_DIR", sessions)
        .env_remove("AGENTCTL_CONFIG")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run agentctl")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const WORKFLOW: &str = "[workflow]\nname = \"recorded-with-local\"\n\n\
    [[agents]]\nid = \"writer\"\n\n\
    [[agents]]\nid = \"named\"\nprovider = \"local\"\n\n\
    [[nodes]]\nid = \"main\"\nkind = \"sequence\"\nsteps = [\"a\", \"b\"]\n\n\
    [[nodes]]\nid = \"a\"\nkind = \"agent\"\nagent = \"writer\"\n\n\
    [[nodes]]\nid = \"b\"\nkind = \"agent\"\nagent = \"named\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_recorded_with_a_configured_provider_reads_back_without_config() {
    let server = MockServer::start(|_, _| whole_reply("an answer from local", Some((12, 4)))).await;
    let dir = tempfile::tempdir().unwrap();
    let (home, sessions) = (dir.path().join("home"), dir.path().join("sessions"));
    std::fs::create_dir_all(&home).unwrap();
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        format!(
            "default_provider = \"local\"\n[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-local-test\"\nmodel = \"tiny\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    let wf = dir.path().join("wf.toml");
    std::fs::write(&wf, WORKFLOW).unwrap();

    let out = agentctl(
        &[
            "run",
            wf.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &home,
        &sessions,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        server.chat_requests().len(),
        2,
        "both agents called `local`"
    );

    // Nothing of the run's settings is left: no config, no workflow file.
    std::fs::remove_file(&cfg).unwrap();
    std::fs::remove_file(&wf).unwrap();
    let file = std::fs::read_dir(&sessions)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let header = std::fs::read_to_string(&file).unwrap();
    let header: serde_json::Value = serde_json::from_str(header.lines().next().unwrap()).unwrap();
    let id = header["session"].as_str().unwrap().to_string();
    assert!(
        header["providers"].to_string().contains("\"local\""),
        "{header}"
    );

    let show = agentctl(&["sessions", "show", &id], &home, &sessions).await;
    assert_eq!(show.status.code(), Some(0), "{}", text(&show));
    assert!(
        text(&show).contains("recorded-with-local"),
        "{}",
        text(&show)
    );
    for format in ["md", "json"] {
        let export = agentctl(
            &["sessions", "export", &id, "--format", format],
            &home,
            &sessions,
        )
        .await;
        assert_eq!(export.status.code(), Some(0), "{}", text(&export));
        assert!(
            text(&export).contains("an answer from local"),
            "{}",
            text(&export)
        );
    }

    // Replay needs a terminal: run it in tmux, with the same empty home.
    let replay = tokio::task::spawn_blocking(move || {
        let cmd = format!(
            "{} replay --paused {id} 2>{}; echo \"replay exit=$?\"; sleep 60",
            env!("CARGO_BIN_EXE_agentctl"),
            home.join("stderr").display()
        );
        let (config, data) = (home.join("config"), home.join("data"));
        let env = [
            ("HOME", home.as_path()),
            ("XDG_CONFIG_HOME", config.as_path()),
            ("XDG_DATA_HOME", data.as_path()),
            ("AGENTCTL_SESSION_DIR", sessions.as_path()),
        ];
        let t = Tmux::start(&cmd, &env, (120, 40)).patience(Duration::from_secs(30));
        t.wait_text("recorded-with-local");
        t.keys(&["q"]);
        let screen = t.wait_text("replay exit=");
        let err = std::fs::read_to_string(home.join("stderr")).unwrap_or_default();
        format!("{screen}\n--- stderr:\n{err}")
    })
    .await
    .unwrap();
    assert!(replay.contains("replay exit=0"), "{replay}");
    assert!(!replay.contains("unknown provider"), "{replay}");
}

/// Resume runs the providers, so it reads the config; it reads it before
/// the recorded workflow, whose agents name the config's provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_recorded_with_a_configured_provider_resumes_with_that_config() {
    let server = MockServer::start(|_, _| whole_reply("an answer from local", Some((12, 4)))).await;
    let dir = tempfile::tempdir().unwrap();
    let (home, sessions) = (dir.path().join("home"), dir.path().join("sessions"));
    std::fs::create_dir_all(&home).unwrap();
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg,
        format!(
            "default_provider = \"local\"\n[providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"sk-local-test\"\nmodel = \"tiny\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    let wf = dir.path().join("wf.toml");
    std::fs::write(&wf, WORKFLOW).unwrap();
    let (wf, cfg) = (wf.to_str().unwrap(), cfg.to_str().unwrap());
    let out = agentctl(&["run", wf, "--config", cfg], &home, &sessions).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Cut the recording to its header: a run interrupted before any event.
    let file = std::fs::read_dir(&sessions)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let recorded = std::fs::read_to_string(&file).unwrap();
    let header = recorded.lines().next().unwrap().to_string();
    std::fs::write(&file, format!("{header}\n")).unwrap();
    let id = serde_json::from_str::<serde_json::Value>(&header).unwrap()["session"]
        .as_str()
        .unwrap()
        .to_string();
    let before = server.chat_requests().len();

    let out = agentctl(&["resume", &id, "--config", cfg], &home, &sessions).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("unknown provider"), "{}", text(&out));
    assert_eq!(server.chat_requests().len(), before + 2, "{}", text(&out));
}
