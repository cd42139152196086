//! `durgate loadgen`: drive load at a gateway (optionally after a bare echo baseline) and report.
//!
//! Closed loop (`--conns` × `--depth`) or open loop (`--rate`), for `--duration` or `--count`
//! requests, from a synthetic workload built from `--rules` or a replayed `--corpus`. Progress
//! goes to stderr; the result table to stdout; with `--json` the last stdout line is the summary
//! as JSON. `--write-corpus FILE` writes `--count` synthetic requests as STX/ETX frames and
//! exits (a corpus for `benches/parse.rs` and replays). Must never hold load logic: that is
//! `loadgen`'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::loadgen::workload::{classify_reply, Synthetic};
use crate::loadgen::{self, CorpusSource, EchoOf, Pace, Plan, Progress, Report, Source, Stop};
use crate::server::connection::ConnectionSettings;
use crate::server::echo::{DurableEcho, EchoServer};
use crate::wire::Framing;

#[derive(clap::Args, Debug)]
pub struct LoadgenArgs {
    /// Gateway claim address (loopback or your own test hosts only).
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub addr: SocketAddr,
    /// Framing: stx or len4.
    #[arg(long, default_value = "stx")]
    pub framing: Framing,
    /// Rule-table folder the synthetic workload is built from.
    #[arg(long, default_value = "config/rules/sample")]
    pub rules: PathBuf,
    /// Replay this file of STX/ETX frames instead of the synthetic workload.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Synthetic patients.
    #[arg(long, default_value_t = 20_000)]
    pub patients: usize,
    /// Connections.
    #[arg(long, default_value_t = 64)]
    pub conns: usize,
    /// Requests in flight per connection (closed loop).
    #[arg(long, default_value_t = 1)]
    pub depth: usize,
    /// Open loop: requests per second in total (latency from the scheduled send time).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Run time, e.g. 10s, 500ms, 2m (default 10s unless --count).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Number of requests instead of a run time.
    #[arg(long)]
    pub count: Option<u64>,
    /// First run the same load against a bare framed echo server started in-process; with
    /// `durable`, also against an echo that replies only after a group-committed fdatasync
    /// append to a preallocated file in `--echo-dir` (the physical limit for "nothing
    /// acknowledged is lost" on that disk).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "plain")]
    pub echo_baseline: Option<EchoBaseline>,
    /// Folder of the durable echo's file: put it on the disk the gateway's store is on.
    #[arg(long, default_value = ".")]
    pub echo_dir: PathBuf,
    /// Print the summary as JSON on the last stdout line.
    #[arg(long)]
    pub json: bool,
    /// Write `--count` synthetic requests to this file as STX/ETX frames and exit.
    #[arg(long)]
    pub write_corpus: Option<PathBuf>,
    /// TLS to the gateway (the echo baselines stay plain TCP).
    #[command(flatten)]
    pub tls: super::client_tls::ClientTlsArgs,
}

/// Which echo baselines run before the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EchoBaseline {
    /// The plain echo only.
    Plain,
    /// The plain echo, then the durable one.
    Durable,
}

/// `10s`, `500ms`, `2m` or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |at| text.split_at(at));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit in {text:?} (ms, s, m)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Why a load run did not succeed: a configuration it cannot use (exit 2), or a run that
/// failed or saw failures (exit 1).
enum Failure {
    Config(anyhow::Error),
    Run(anyhow::Error),
}

/// `loadgen`: exit 0 only when every request sent was answered on a healthy connection.
pub fn loadgen(args: &LoadgenArgs) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime");
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(error) => Err(Failure::Run(error)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(error)) => {
            eprintln!("durgate loadgen: {error:#}");
            ExitCode::from(2)
        }
        Err(Failure::Run(error)) => {
            eprintln!("durgate loadgen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &LoadgenArgs) -> Result<(), Failure> {
    let source = source(args).map_err(Failure::Config)?;
    if let Some(path) = &args.write_corpus {
        return write_corpus(&*source, path, args.count.unwrap_or(10_000)).map_err(Failure::Run);
    }
    let mut plan = plan(args, args.addr);
    plan.tls = args.tls.client(args.addr).map_err(Failure::Config)?;
    let echo = match args.echo_baseline {
        Some(_) => Some(
            echo_run(args, source.clone(), None)
                .await
                .map_err(Failure::Run)?,
        ),
        None => None,
    };
    let durable = match args.echo_baseline {
        Some(EchoBaseline::Durable) => Some(durable_echo_run(args, source.clone()).await?),
        _ => None,
    };
    let progress = Arc::new(Progress::default());
    let gateway = loadgen::with_progress(
        "gateway",
        progress.clone(),
        loadgen::engine::run(&plan, source, progress),
    )
    .await;
    print_results(args, &gateway, echo.as_ref(), durable.as_ref());
    run_verdict(&gateway).map_err(Failure::Run)
}

/// A run with failed connections or unanswered requests is a failed run, with the reasons.
fn run_verdict(gateway: &Report) -> anyhow::Result<()> {
    let unanswered = gateway.sent.saturating_sub(gateway.completed);
    if gateway.connection_errors == 0 && unanswered == 0 {
        return Ok(());
    }
    let reasons: Vec<String> = gateway
        .failures
        .iter()
        .map(|(reason, n)| format!("{reason} (x{n})"))
        .collect();
    anyhow::bail!(
        "{} connections failed, {unanswered} requests unanswered: {}",
        gateway.connection_errors,
        reasons.join("; ")
    )
}

fn source(args: &LoadgenArgs) -> anyhow::Result<Arc<dyn Source>> {
    if let Some(path) = &args.corpus {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let corpus = CorpusSource::new(&bytes, classify_reply)
            .with_context(|| format!("{}: no frames", path.display()))?;
        return Ok(Arc::new(corpus));
    }
    let folder = crate::server::reload::read_rule_folder(&args.rules)
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let rules = crate::rules::compile(&folder).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let run_prefix = u64::try_from(crate::clock::unix_ms() / 1_000).unwrap_or(0);
    let synthetic = Synthetic::new(&rules, args.patients, crate::server::today(), run_prefix)?;
    eprintln!(
        "loadgen: {} synthetic patients from {}",
        synthetic.patients(),
        rules.stamp()
    );
    Ok(Arc::new(synthetic))
}

fn plan(args: &LoadgenArgs, addr: SocketAddr) -> Plan {
    let pace = match args.rate {
        Some(rate_per_sec) => Pace::Open {
            rate_per_sec,
            conns: args.conns,
        },
        None => Pace::Closed {
            conns: args.conns,
            depth: args.depth,
        },
    };
    let stop = match (args.count, args.duration) {
        (Some(count), _) => Stop::Count(count),
        (None, duration) => Stop::After(duration.unwrap_or(Duration::from_secs(10))),
    };
    Plan {
        addr,
        framing: args.framing,
        pace,
        stop,
        tls: None,
    }
}

/// The durable echo's run, its file in `--echo-dir` (removed afterwards).
async fn durable_echo_run(args: &LoadgenArgs, source: Arc<dyn Source>) -> Result<Report, Failure> {
    let file = args
        .echo_dir
        .join(format!("durgate-echo-{}.wal", std::process::id()));
    let handler = DurableEcho::create(&file)
        .with_context(|| format!("{}: cannot create the durable echo's file", file.display()))
        .map_err(Failure::Config)?;
    let report = echo_run(args, source, Some(handler)).await;
    let _ = std::fs::remove_file(&file);
    report.map_err(Failure::Run)
}

/// One echo run: the plain echo, or the durable one when `durable` is given.
async fn echo_run(
    args: &LoadgenArgs,
    source: Arc<dyn Source>,
    durable: Option<DurableEcho>,
) -> anyhow::Result<Report> {
    let settings = ConnectionSettings {
        framing: args.framing,
        frame_bytes_max: crate::limits::FRAME_BYTES_MAX,
        garbage_bytes_max: 0,
        in_flight: crate::limits::IN_FLIGHT_PER_CONNECTION_MAX,
        read_timeout: crate::limits::READ_TIMEOUT,
        idle_timeout: crate::limits::IDLE_TIMEOUT,
        write_timeout: crate::limits::WRITE_TIMEOUT,
        send_buffer_bytes: crate::limits::SEND_BUFFER_BYTES,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let connections_max = crate::limits::CONNECTIONS_MAX;
    let name = if durable.is_some() {
        "durable echo"
    } else {
        "echo"
    };
    let server = match durable {
        Some(handler) => EchoServer::start_with(handler, addr, settings, connections_max).await?,
        None => EchoServer::start(addr, settings, connections_max).await?,
    };
    let plan = plan(args, server.addr);
    let progress = Arc::new(Progress::default());
    let echo_source: Arc<dyn Source> = Arc::new(EchoOf(source));
    let report = loadgen::with_progress(
        name,
        progress.clone(),
        loadgen::engine::run(&plan, echo_source, progress),
    )
    .await;
    server.stop().await;
    Ok(report)
}

fn print_results(
    args: &LoadgenArgs,
    gateway: &Report,
    echo: Option<&Report>,
    durable: Option<&Report>,
) {
    for (name, report) in [("echo", echo), ("durable echo", durable)] {
        if let Some(report) = report {
            println!("{}", loadgen::render_report(name, report));
        }
    }
    println!("{}", loadgen::render_report("gateway", gateway));
    let plain_ratios = echo.map(|echo| ratios(gateway, echo));
    let durable_ratios = durable.map(|durable| ratios(gateway, durable));
    for (name, ratio) in [("echo", plain_ratios), ("durable echo", durable_ratios)] {
        if let Some((throughput, p99)) = ratio {
            println!("ratio gateway/{name}: throughput {throughput:.3}  p99 {p99:.3}");
        }
    }
    if args.json {
        let summary = serde_json::json!({
            "pace": format!("{:?}", plan(args, args.addr).pace),
            "gateway": gateway,
            "echo": echo,
            "durable_echo": durable,
            "ratio_throughput": plain_ratios.map(|(throughput, _)| throughput),
            "ratio_p99": plain_ratios.map(|(_, p99)| p99),
            "ratio_durable_throughput": durable_ratios.map(|(throughput, _)| throughput),
            "ratio_durable_p99": durable_ratios.map(|(_, p99)| p99),
        });
        println!("{summary}");
    }
}

fn ratios(gateway: &Report, echo: &Report) -> (f64, f64) {
    let throughput = gateway.throughput_per_sec / echo.throughput_per_sec.max(1e-9);
    let p99 = gateway.latency_micros.p99 as f64 / (echo.latency_micros.p99.max(1) as f64);
    (throughput, p99)
}

fn write_corpus(source: &dyn Source, path: &std::path::Path, count: u64) -> anyhow::Result<()> {
    let mut out = bytes::BytesMut::new();
    let mut scratch = Vec::new();
    for seq in 0..count.min(10_000_000) {
        scratch.clear();
        source.write_request(seq, &mut scratch);
        crate::wire::encode_frame(Framing::StxEtx, &scratch, &mut out);
    }
    std::fs::write(path, &out).with_context(|| format!("{}: cannot write", path.display()))?;
    eprintln!(
        "loadgen: wrote {count} frames ({} bytes) to {}",
        out.len(),
        path.display()
    );
    Ok(())
}
