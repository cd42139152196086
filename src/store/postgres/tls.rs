//! TLS to PostgreSQL: the store url's `sslmode` (and `sslrootcert`) as libpq reads them, over
//! the rustls the claim listener already uses.
//!
//! Tier 2, inside `store::postgres`: `PgLocation::parse` takes `sslmode` and `sslrootcert` out
//! of the url ([`PgTls::take`]), hands the driver the part of the mode it knows (disable,
//! prefer, require), and every pooled connection and report session connects through
//! [`PgTls::connector`]:
//!
//! - `disable`: plaintext;
//! - `prefer` (the default, as in libpq): TLS when the server offers it, else plaintext; the
//!   server's certificate is not checked;
//! - `require`: TLS or no connection; the certificate is not checked (libpq's reading);
//! - `verify-ca`: TLS, the server's chain must lead to a CA in `sslrootcert`;
//! - `verify-full`: as `verify-ca`, and the certificate must name the host of the url.
//!
//! Health data crosses the network: production urls should say `verify-full`.
//!
//! Must never: read a root file beyond [`limits::TLS_PEM_FILE_BYTES_MAX`], or accept a chain
//! that `verify-ca`/`verify-full` did not verify.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::limits;
use crate::store::StoreError;

/// What the url asked of the link to the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgTls {
    Disable,
    Prefer,
    Require,
    VerifyCa(PathBuf),
    VerifyFull(PathBuf),
}

impl PgTls {
    /// Takes `sslmode=` and `sslrootcert=` out of the url's query pairs (the rest stays for
    /// the driver).
    pub fn take(pairs: &mut Vec<&str>) -> Result<PgTls, StoreError> {
        let mode = take_value(pairs, "sslmode=");
        let root = take_value(pairs, "sslrootcert=").map(PathBuf::from);
        match (mode.unwrap_or("prefer"), root) {
            ("disable", _) => Ok(PgTls::Disable),
            ("prefer" | "allow", _) => Ok(PgTls::Prefer),
            ("require", _) => Ok(PgTls::Require),
            ("verify-ca", Some(root)) => Ok(PgTls::VerifyCa(root)),
            ("verify-full", Some(root)) => Ok(PgTls::VerifyFull(root)),
            ("verify-ca" | "verify-full", None) => Err(StoreError::Url(
                "sslmode=verify-ca and verify-full need sslrootcert=PATH (the CA's PEM file)"
                    .into(),
            )),
            (other, _) => Err(StoreError::Url(format!(
                "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
            ))),
        }
    }

    /// The part of the mode the driver applies (whether to ask for TLS, and whether to give
    /// up without it).
    pub fn driver_mode(&self) -> SslMode {
        match self {
            PgTls::Disable => SslMode::Disable,
            PgTls::Prefer => SslMode::Prefer,
            PgTls::Require | PgTls::VerifyCa(_) | PgTls::VerifyFull(_) => SslMode::Require,
        }
    }

    /// The connector every connection to the database goes through.
    pub fn connector(&self) -> Result<MakeRustlsConnect, StoreError> {
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let lenient = |chain| {
            Arc::new(Lenient {
                chain,
                provider: provider.clone(),
            })
        };
        let verifier: Arc<dyn ServerCertVerifier> = match self {
            PgTls::Disable | PgTls::Prefer | PgTls::Require => lenient(None),
            PgTls::VerifyCa(root) => lenient(Some(webpki(root, provider.clone())?)),
            PgTls::VerifyFull(root) => webpki(root, provider.clone())?,
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// The value of the last `name` pair, every one of them removed.
fn take_value<'a>(pairs: &mut Vec<&'a str>, name: &str) -> Option<&'a str> {
    let value = pairs.iter().rev().find_map(|pair| pair.strip_prefix(name));
    pairs.retain(|pair| !pair.starts_with(name));
    value
}

fn tls_error(error: rustls::Error) -> StoreError {
    StoreError::Url(format!("TLS to PostgreSQL: {error}"))
}

/// The standard verifier (chain, validity, host name) over the CAs in `root`.
fn webpki(
    root: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, StoreError> {
    let mut roots = RootCertStore::empty();
    for certificate in root_certificates(root)? {
        roots.add(certificate).map_err(tls_error)?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|error| StoreError::Url(format!("sslrootcert: {error}")))
}

/// The certificates of the `sslrootcert` file: at least one, at most
/// [`limits::TLS_CLIENT_CA_CERTIFICATES_MAX`].
fn root_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let unusable = |why: String| StoreError::Url(format!("sslrootcert {}: {why}", path.display()));
    let file = std::fs::File::open(path).map_err(|error| unusable(error.to_string()))?;
    let mut bytes = Vec::new();
    let read_max = limits::TLS_PEM_FILE_BYTES_MAX + 1;
    file.take(read_max)
        .read_to_end(&mut bytes)
        .map_err(|error| unusable(error.to_string()))?;
    if bytes.len() as u64 == read_max {
        return Err(unusable("larger than a PEM file may be".into()));
    }
    let found: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes)
        .take(limits::TLS_CLIENT_CA_CERTIFICATES_MAX)
        .collect();
    let found = found.map_err(|error| unusable(error.to_string()))?;
    if found.is_empty() {
        return Err(unusable("no certificate in it".into()));
    }
    Ok(found)
}

/// `prefer` and `require` (no chain): the link is encrypted, the server's certificate taken
/// as it comes. `verify-ca` (a chain): the chain must verify, a certificate for another host
/// name is accepted. Either way the handshake's signatures are checked.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        let algorithms = &self.provider.signature_verification_algorithms;
        algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &str) -> (Result<PgTls, StoreError>, Vec<&str>) {
        let mut pairs: Vec<&str> = query.split('&').collect();
        let tls = PgTls::take(&mut pairs);
        (tls, pairs)
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_from_the_url_and_the_rest_stays() {
        let (tls, rest) = parsed("sslmode=verify-full&sslrootcert=/etc/ca.pem&user=x");
        assert_eq!(tls.expect("read"), PgTls::VerifyFull("/etc/ca.pem".into()));
        assert_eq!(rest, ["user=x"]);
        assert_eq!(parsed("user=x").0.expect("read"), PgTls::Prefer);
        assert_eq!(parsed("sslmode=disable").0.expect("read"), PgTls::Disable);
        let require = parsed("sslmode=require").0.expect("read");
        assert_eq!(require.driver_mode(), SslMode::Require);
    }

    #[test]
    fn a_verifying_mode_without_a_root_or_an_unknown_mode_is_refused() {
        assert!(matches!(
            parsed("sslmode=verify-ca").0,
            Err(StoreError::Url(_))
        ));
        assert!(matches!(
            parsed("sslmode=always").0,
            Err(StoreError::Url(_))
        ));
        let missing = PgTls::VerifyFull("/nonexistent/ca.pem".into()).connector();
        assert!(
            matches!(missing, Err(StoreError::Url(message)) if message.contains("sslrootcert"))
        );
    }
}
