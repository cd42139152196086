//! Client-certificate scopes: which BINs and pharmacies a mutually authenticated switch may
//! submit for.
//!
//! Tier 3, beside `server::tls`. At start-up `[tls.scopes]` is compiled into
//! [`ClientScopes`]; after each claim handshake the listener asks it for the connection's
//! [`ConnectionScope`] from the client certificate's names (its DNS subject alternative names,
//! then its subject common name — the first that names an entry wins). The pipeline checks
//! every transmission's 101-A1 BIN and 201-B1 service provider id against that scope before
//! it reads any history; a transmission outside it is answered with header rejects (`01` for
//! the BIN, `50` for the pharmacy, both when both are outside), recorded nowhere and counted
//! by `durgate_scope_refusals_total{reason}`. A certificate the CA vouches for but no entry
//! names may submit nothing (reason `unknown_certificate`, both codes).
//!
//! Without `[tls.scopes]` every certificate from `client_ca` may submit for any BIN and
//! pharmacy (the connection is [`ConnectionScope::Unrestricted`]).
//!
//! Must never: consult the store or the rule tables; log a patient identifier (a certificate
//! name, a BIN and a pharmacy id are not PHI); trust a name from a certificate the handshake
//! did not verify (it only sees certificates rustls accepted).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::db::rfc4519;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use crate::claim::{reject, RejectCode};
use crate::config::ClientScope;
use crate::limits;

/// `[tls.scopes]`, compiled: certificate name → what it may submit for.
#[derive(Debug, Default)]
pub struct ClientScopes {
    by_name: HashMap<String, Arc<Scope>>,
}

/// The ids of one scope (trimmed bytes, as they come off the wire); `None` = any.
#[derive(Debug, Default)]
pub struct Scope {
    bins: Option<HashSet<Box<[u8]>>>,
    pharmacies: Option<HashSet<Box<[u8]>>>,
}

/// What one connection may submit for.
#[derive(Clone, Debug)]
pub enum ConnectionScope {
    /// No scopes are configured (or the connection is not TLS).
    Unrestricted,
    /// The client certificate's `name` has this scope.
    Limited { name: Arc<str>, scope: Arc<Scope> },
    /// Scopes are configured and none names the client certificate.
    Unknown,
}

/// Why a transmission was outside its connection's scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    UnknownCertificate,
    Bin,
    Pharmacy,
    BinAndPharmacy,
}

impl Refusal {
    /// The `reason` label of `durgate_scope_refusals_total`.
    pub const ALL: [Refusal; 4] = [
        Refusal::UnknownCertificate,
        Refusal::Bin,
        Refusal::Pharmacy,
        Refusal::BinAndPharmacy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownCertificate => "unknown_certificate",
            Refusal::Bin => "bin",
            Refusal::Pharmacy => "pharmacy",
            Refusal::BinAndPharmacy => "bin_and_pharmacy",
        }
    }

    /// The header reject codes every claim of the transmission gets.
    pub fn codes(self) -> Vec<RejectCode> {
        match self {
            Refusal::Bin => vec![reject::BIN],
            Refusal::Pharmacy => vec![reject::NON_MATCHED_PHARMACY],
            Refusal::UnknownCertificate | Refusal::BinAndPharmacy => {
                vec![reject::BIN, reject::NON_MATCHED_PHARMACY]
            }
        }
    }
}

impl ClientScopes {
    /// Compiles the configured entries (bounded by the config's validation).
    pub fn new(entries: &BTreeMap<String, ClientScope>) -> ClientScopes {
        let by_name = entries
            .iter()
            .map(|(name, entry)| (name.to_ascii_lowercase(), Arc::new(Scope::new(entry))))
            .collect();
        ClientScopes { by_name }
    }

    /// The scope of a connection whose client presented `certificate` (DER, verified).
    pub fn for_certificate(&self, certificate: Option<&[u8]>) -> ConnectionScope {
        let names = certificate.map(certificate_names).unwrap_or_default();
        names
            .into_iter()
            .find_map(|name| {
                let scope = self.by_name.get(&name.to_ascii_lowercase())?.clone();
                Some(ConnectionScope::Limited {
                    name: name.into(),
                    scope,
                })
            })
            .unwrap_or(ConnectionScope::Unknown)
    }
}

impl Scope {
    fn new(entry: &ClientScope) -> Scope {
        let compile = |ids: &Vec<String>| {
            ids.iter()
                .map(|id| id.as_bytes().trim_ascii().into())
                .collect()
        };
        Scope {
            bins: entry.bins.as_ref().map(compile),
            pharmacies: entry.pharmacies.as_ref().map(compile),
        }
    }

    fn allows(ids: &Option<HashSet<Box<[u8]>>>, id: &[u8]) -> bool {
        ids.as_ref().is_none_or(|ids| ids.contains(id.trim_ascii()))
    }
}

impl ConnectionScope {
    /// Whether this connection may submit for `bin` (101-A1) at `pharmacy` (201-B1), as they
    /// stand in the request header (padded or not).
    pub fn check(&self, bin: &[u8], pharmacy: &[u8]) -> Result<(), Refusal> {
        let scope = match self {
            ConnectionScope::Unrestricted => return Ok(()),
            ConnectionScope::Unknown => return Err(Refusal::UnknownCertificate),
            ConnectionScope::Limited { scope, .. } => scope,
        };
        let bin_ok = Scope::allows(&scope.bins, bin);
        match (bin_ok, Scope::allows(&scope.pharmacies, pharmacy)) {
            (true, true) => Ok(()),
            (false, true) => Err(Refusal::Bin),
            (true, false) => Err(Refusal::Pharmacy),
            (false, false) => Err(Refusal::BinAndPharmacy),
        }
    }

    /// The certificate name the scope was found under (for the refusal log line).
    pub fn name(&self) -> &str {
        match self {
            ConnectionScope::Limited { name, .. } => name,
            ConnectionScope::Unrestricted | ConnectionScope::Unknown => "",
        }
    }
}

/// The DNS subject alternative names of a certificate, then its subject common names (at most
/// [`limits::TLS_CERTIFICATE_NAMES_MAX`]); none when it does not parse.
pub fn certificate_names(der: &[u8]) -> Vec<String> {
    let Ok(certificate) = Certificate::from_der(der) else {
        return Vec::new();
    };
    let tbs = &certificate.tbs_certificate;
    let dns_names = match tbs.get::<SubjectAltName>() {
        Ok(Some((_, SubjectAltName(names)))) => names,
        _ => Vec::new(),
    };
    let dns_names = dns_names.into_iter().filter_map(|name| match name {
        GeneralName::DnsName(dns) => Some(dns.to_string()),
        _ => None,
    });
    let common_names = tbs
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter_map(|pair| {
            let text = (pair.oid == rfc4519::CN).then_some(&pair.value)?;
            let utf8 = Utf8StringRef::try_from(text).map(|s| s.as_str().to_string());
            utf8.or_else(|_| PrintableStringRef::try_from(text).map(|s| s.as_str().to_string()))
                .ok()
        });
    let names: Vec<String> = dns_names.chain(common_names).collect();
    names
        .into_iter()
        .take(limits::TLS_CERTIFICATE_NAMES_MAX)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn certificate(dns_names: &[&str], common_name: &str) -> Vec<u8> {
        let names = dns_names
            .iter()
            .map(|name| name.to_string())
            .collect::<Vec<_>>();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn scopes() -> ClientScopes {
        let entry = |bins: Option<&[&str]>, pharmacies: Option<&[&str]>| ClientScope {
            bins: bins.map(|ids| ids.iter().map(|id| id.to_string()).collect()),
            pharmacies: pharmacies.map(|ids| ids.iter().map(|id| id.to_string()).collect()),
        };
        let mut entries = BTreeMap::new();
        entries.insert("switch-a.example".into(), entry(Some(&["610014"]), None));
        entries.insert("Switch B".into(), entry(None, Some(&["1234567890"])));
        ClientScopes::new(&entries)
    }

    #[test]
    fn names_are_the_dns_alternative_names_then_the_common_name() {
        let der = certificate(&["switch-a.example", "backup.example"], "Switch A");
        assert_eq!(
            certificate_names(&der),
            ["switch-a.example", "backup.example", "Switch A"]
        );
        assert!(certificate_names(b"not a certificate").is_empty());
    }

    #[test]
    fn a_certificate_finds_its_scope_by_alternative_name_or_common_name() {
        let scopes = scopes();
        let by_san = scopes.for_certificate(Some(&certificate(&["SWITCH-A.example"], "x")));
        assert_eq!(by_san.name(), "SWITCH-A.example");
        let by_cn = scopes.for_certificate(Some(&certificate(&["other.example"], "switch b")));
        assert_eq!(by_cn.name(), "switch b");
        let unknown = scopes.for_certificate(Some(&certificate(&["c.example"], "C")));
        assert_eq!(
            unknown.check(b"610014", b"1234567890"),
            Err(Refusal::UnknownCertificate)
        );
        let absent = scopes.for_certificate(None);
        assert_eq!(
            absent.check(b"610014", b"1"),
            Err(Refusal::UnknownCertificate)
        );
    }

    #[test]
    fn a_scope_limits_only_what_it_lists_and_header_padding_does_not_matter() {
        let scopes = scopes();
        let bin_only = scopes.for_certificate(Some(&certificate(&["switch-a.example"], "A")));
        assert_eq!(bin_only.check(b"610014", b"9999999999"), Ok(()));
        assert_eq!(bin_only.check(b"610015", b"9999999999"), Err(Refusal::Bin));
        let pharmacy_only = scopes.for_certificate(Some(&certificate(&[], "Switch B")));
        assert_eq!(pharmacy_only.check(b"000001", b"1234567890     "), Ok(()));
        assert_eq!(
            pharmacy_only.check(b"1", b"1234567891"),
            Err(Refusal::Pharmacy)
        );
        assert_eq!(ConnectionScope::Unrestricted.check(b"", b""), Ok(()));
    }

    #[test]
    fn refusals_map_to_header_reject_codes() {
        let codes = |refusal: Refusal| {
            refusal
                .codes()
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(Refusal::Bin), ["01"]);
        assert_eq!(codes(Refusal::Pharmacy), ["50"]);
        assert_eq!(codes(Refusal::BinAndPharmacy), ["01", "50"]);
        assert_eq!(codes(Refusal::UnknownCertificate), ["01", "50"]);
    }
}
