//! `durgate send --addr ADDR [--framing stx|len4] [--json] FILE|DIR...`: a switch-like client.
//!
//! Sends each transmission of each file (bare D.0 or STX…ETX frames; a DIR means its `*.d0`
//! files in name order) over one connection, waits for each reply and prints it decoded: per
//! transaction the status, authorization, reject codes and DUR conflicts, or with `--json` one
//! JSON object per reply (the `decode --json` shape). Exit 0 when every transmission got a
//! reply, 1 otherwise. Must never interpret claims itself: decoding is `ncpdp`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bytes::BytesMut;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

use super::client_tls::ClientTlsArgs;
use crate::limits::{DECODE_FILE_BYTES_MAX, FRAME_BYTES_MAX};
use crate::ncpdp::{self, dump, Response};
use crate::wire::{self, FrameCodec, Framing};

#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// Gateway claim address.
    #[arg(long)]
    pub addr: SocketAddr,
    /// Framing: stx or len4.
    #[arg(long, default_value = "stx")]
    pub framing: Framing,
    /// Print each reply as one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for each reply (milliseconds).
    #[arg(long, default_value_t = 5_000)]
    pub timeout_ms: u64,
    /// Files or folders of transmissions.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
}

pub fn send(args: &SendArgs) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let outcome = runtime
        .context("cannot start the runtime")
        .and_then(|runtime| runtime.block_on(send_all(args)));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("durgate send: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn send_all(args: &SendArgs) -> anyhow::Result<bool> {
    let files = expand(&args.paths)?;
    let tls = args.tls.client(args.addr)?;
    let stream = TcpStream::connect(args.addr)
        .await
        .with_context(|| format!("cannot connect to {}", args.addr))?;
    stream.set_nodelay(true)?;
    let Some(tls) = tls else {
        let (read, write) = stream.into_split();
        return exchange(args, &files, read, write).await;
    };
    let secured = tls
        .connect(stream)
        .await
        .context("TLS handshake with the gateway failed")?;
    let (read, write) = tokio::io::split(secured);
    exchange(args, &files, read, write).await
}

/// Sends every transmission of `files` in order, each after the previous reply.
async fn exchange(
    args: &SendArgs,
    files: &[PathBuf],
    read: impl AsyncRead + Unpin,
    mut write: impl AsyncWrite + Unpin,
) -> anyhow::Result<bool> {
    let mut replies = FramedRead::new(read, FrameCodec::new(args.framing, FRAME_BYTES_MAX, 0));
    let mut all_answered = true;
    for file in files {
        let bytes = read_file(file)?;
        let transmissions =
            wire::split_file_frames(&bytes).with_context(|| format!("{}", file.display()))?;
        for (index, transmission) in transmissions.iter().enumerate() {
            let label = format!("{} #{}", file.display(), index + 1);
            if is_response(transmission) {
                // A gateway answers requests only: waiting for a reply would only time out.
                println!("{label}: a response, not a request: not sent");
                continue;
            }
            let mut framed = BytesMut::new();
            wire::encode_frame(args.framing, transmission, &mut framed);
            write
                .write_all(&framed)
                .await
                .context("connection closed by the gateway")?;
            let reply =
                tokio::time::timeout(Duration::from_millis(args.timeout_ms), replies.next()).await;
            all_answered &= print_reply(&label, reply, args.json);
        }
    }
    Ok(all_answered)
}

/// Whether a transmission is a D.0 response (a 31-byte response header), not a request.
fn is_response(transmission: &[u8]) -> bool {
    ncpdp::parse(transmission).is_ok_and(|message| message.kind == ncpdp::Kind::Response)
}

type Reply = Result<Option<Result<BytesMut, wire::FrameError>>, tokio::time::error::Elapsed>;

fn print_reply(label: &str, reply: Reply, json: bool) -> bool {
    match reply {
        Ok(Some(Ok(bytes))) => {
            match (json, dump::decode(&bytes), ncpdp::parse_response(&bytes)) {
                (true, Ok(decoded), _) => println!("{}", decoded.json()),
                (false, _, Ok(response)) => print!("{}", summary(label, &response)),
                _ => println!("{label}: unreadable reply ({} bytes)", bytes.len()),
            }
            true
        }
        Ok(Some(Err(error))) => {
            eprintln!("{label}: reply framing error: {error}");
            false
        }
        Ok(None) => {
            eprintln!("{label}: connection closed without a reply");
            false
        }
        Err(_) => {
            eprintln!("{label}: no reply (the header may be unreadable)");
            false
        }
    }
}

/// A few readable lines per reply.
pub fn summary(label: &str, response: &Response) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{label}: {} {} status {}\n",
        response.header.transaction_code,
        response.header.date_of_service,
        char::from(response.header.status.code())
    );
    for (index, transaction) in response.transactions.iter().enumerate() {
        let rejects: Vec<&str> = transaction
            .rejects
            .iter()
            .map(|reject| reject.code.as_str())
            .collect();
        let _ = write!(
            out,
            "  transaction {}: {}",
            index + 1,
            char::from(transaction.status.code())
        );
        if let Some(authorization) = &transaction.authorization {
            let _ = write!(out, " authorization {authorization}");
        }
        if !rejects.is_empty() {
            let _ = write!(out, " rejects {}", rejects.join(","));
        }
        out.push('\n');
        for dur in &transaction.dur {
            let reason = dur.reason.map(|code| code.to_string()).unwrap_or_default();
            let significance = dur
                .clinical_significance
                .map(|level| level.to_string())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    DUR {} {reason} significance {significance}: {}",
                dur.counter, dur.message
            );
        }
        for message in &transaction.messages {
            let _ = writeln!(out, "    message: {}", message.text);
        }
    }
    out
}

fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("{}: cannot list", path.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.extension().is_some_and(|ext| ext == "d0"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("{}: cannot read", path.display()))?
        .len();
    anyhow::ensure!(
        size <= DECODE_FILE_BYTES_MAX as u64,
        "{}: larger than {DECODE_FILE_BYTES_MAX} bytes",
        path.display()
    );
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}
