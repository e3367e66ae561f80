//! Child server processes for end-to-end tests.

use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

/// A running server that printed `listening on http://ADDR`.
pub struct ChildServer {
    child: Child,
    addr: String,
    output: Arc<Mutex<String>>,
    /// The tasks copying stdout and stderr into `output`; they end at the pipes' end of file.
    readers: Vec<JoinHandle<()>>,
}

fn collect<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    output: Arc<Mutex<String>>,
    mut listening: Option<oneshot::Sender<String>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = line.strip_prefix("listening on http://") {
                if let Some(tx) = listening.take() {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
            let mut out = output.lock().await;
            out.push_str(&line);
            out.push('\n');
        }
    })
}

impl ChildServer {
    /// Starts `program` and waits (up to 60 s) for its listening line.
    pub async fn spawn(program: &str, args: &[&str], envs: &[(&str, &str)]) -> std::io::Result<ChildServer> {
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = oneshot::channel();
        let readers = vec![
            collect(child.stdout.take().expect("piped stdout"), output.clone(), Some(tx)),
            collect(child.stderr.take().expect("piped stderr"), output.clone(), None),
        ];
        let addr = match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let _ = child.start_kill();
                let status = child.wait().await.ok();
                let out = output.lock().await.clone();
                return Err(std::io::Error::other(format!(
                    "{program} did not print its listening line (exit: {status:?}); output:\n{out}"
                )));
            }
        };
        Ok(ChildServer { child, addr, output, readers })
    }

    /// `ADDR` of the listening line.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything the process printed so far (stdout and stderr, interleaved by line); after
    /// [`ChildServer::stop`] or [`ChildServer::wait`], everything it printed.
    pub async fn output(&self) -> String {
        self.output.lock().await.clone()
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit; kills it after that.
    pub async fn stop(&mut self, timeout: Duration) -> std::io::Result<ExitStatus> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
                self.read_to_end().await;
                status
            }
            Err(_) => {
                let _ = self.child.start_kill();
                Err(std::io::Error::other(format!("no exit within {timeout:?} after SIGTERM")))
            }
        }
    }

    /// Waits for the process to exit on its own.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.read_to_end().await;
        status
    }

    /// After the exit: waits (up to 5 s) until everything the process printed is in `output`,
    /// so its last lines are not lost to the reader tasks' lag.
    async fn read_to_end(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
    }
}

/// Runs a command to completion and returns (status, stdout, stderr); for CLI tests.
pub async fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> std::io::Result<(ExitStatus, String, String)> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .map_err(|_| std::io::Error::other("command timed out"))??;
    Ok((
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}
