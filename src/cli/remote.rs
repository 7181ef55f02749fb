//! Running a command through the server that holds the database, over loopback, authenticated
//! by the admin secret only the data dir's owner can read.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::manage::{Command, Outcome};
use crate::runtime::RunningServer;
use crate::secrets::admin_secret_path;

pub fn execute(data_dir: &Path, command: &Command) -> anyhow::Result<Outcome> {
    let locked = || {
        anyhow!(
            "the database in {} is held by another process that does not answer as a streamd \
             server; stop that process and try again",
            data_dir.display()
        )
    };
    let server = RunningServer::read(data_dir).ok_or_else(locked)?;
    let secret_path = admin_secret_path(data_dir);
    let secret = std::fs::read_to_string(&secret_path)
        .with_context(|| format!("reading the admin secret {}", secret_path.display()))?;
    let url = format!(
        "http://{}{}",
        server.connect_addr(),
        crate::web::local::CLI_PATH
    );
    // Loopback only: an HTTP(S)_PROXY in the environment must not take the admin secret away.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut res = agent
        .post(&url)
        .header("Authorization", format!("Bearer {}", secret.trim()))
        .send_json(command)
        .map_err(|e| {
            anyhow!(
                "streamd (pid {}) holds the database but does not answer on {}: {e}",
                server.pid,
                server.connect_addr()
            )
        })?;
    if res.status().is_success() {
        return res
            .body_mut()
            .read_json::<Outcome>()
            .context("reading the server's answer");
    }
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    let status = res.status();
    match res.body_mut().read_json::<Body>() {
        Ok(b) => Err(anyhow!(b.error.message)),
        Err(_) => Err(anyhow!("the running server answered {status}")),
    }
}
