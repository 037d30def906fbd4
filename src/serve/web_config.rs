//! `serve --web-config FILE`: the Prometheus exporter-toolkit's web configuration
//! (the file node_exporter and every official exporter read;
//! <https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md>,
//! `web/tls_config.go`), turned into the HTTP server's [`Access`].
//!
//! Read strictly, as the toolkit does (`yaml.UnmarshalStrict`): an unknown key is
//! an error with its line and column. What porttop cannot honour is refused with
//! the reason rather than ignored (a setting that silently does nothing is a
//! security hole in a TLS configuration): `client_auth_type` values that accept
//! unverified certificates, TLS 1.0/1.1, `client_allowed_sans`, `rate_limit`.
//! Relative paths are relative to the file's directory, as in the toolkit. Files
//! are read once at start (the toolkit re-reads them per connection): restart to
//! load new certificates.

use super::http::{auth::Auth, Access};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsFile>,
    http_server_config: Option<HttpFile>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: Option<String>,
    key: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca: Option<String>,
    client_ca_file: Option<String>,
    client_auth_type: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    /// Accepted and without effect: porttop answers HTTP/1.1 only.
    #[allow(dead_code)]
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// Reads and checks the file: one line naming the file (and the line and column
/// of a YAML error) when anything is wrong.
pub fn load(path: &Path) -> Result<Access, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--web-config {}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir).map_err(|e| format!("--web-config {}: {e}", path.display()))
}

/// [`load`] on text, with relative paths taken from `dir`.
pub fn parse(text: &str, dir: &Path) -> Result<Access, String> {
    let file: File = if text.trim().is_empty() {
        File::default()
    } else {
        serde_yaml_ng::from_str::<Option<File>>(text)
            .map_err(|e| e.to_string())?
            .unwrap_or_default()
    };
    if file.rate_limit.is_some() {
        return Err("rate_limit is not supported by porttop (its server bounds \
                    connections, queues and downloads itself); remove it"
            .into());
    }
    let mut access = Access::default();
    if let Some(users) = file.basic_auth_users {
        for (user, hash) in &users {
            hash.parse::<bcrypt::HashParts>().map_err(|e| {
                format!("basic_auth_users: {user:?}: not a bcrypt hash ({e}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`")
            })?;
            if user.contains(':') {
                return Err(format!(
                    "basic_auth_users: {user:?}: a user name cannot contain ':'"
                ));
            }
        }
        if !users.is_empty() {
            access.auth = Some(Arc::new(Auth::new(users.into_iter().collect())));
        }
    }
    if let Some(headers) = file.http_server_config.and_then(|h| h.headers) {
        for (name, value) in headers {
            check_header(&name, &value)?;
            access.headers.push(format!("{name}: {value}"));
        }
    }
    if let Some(tls) = file.tls_server_config {
        if tls_enabled(&tls) {
            access.tls = Some(Arc::new(server_config(&tls, dir)?));
        }
    }
    Ok(access)
}

/// The toolkit's `IsEnabled`: any TLS setting turns TLS on (and then it must be
/// complete).
fn tls_enabled(t: &TlsFile) -> bool {
    t.cert.is_some()
        || t.key.is_some()
        || t.cert_file.is_some()
        || t.key_file.is_some()
        || t.client_ca.is_some()
        || t.client_ca_file.is_some()
        || t.client_auth_type.is_some()
}

/// The headers the toolkit allows, with the values it allows (empty: any).
fn check_header(name: &str, value: &str) -> Result<(), String> {
    let allowed: &[&str] = match name {
        "Strict-Transport-Security" | "X-XSS-Protection" | "Content-Security-Policy" => &[],
        "X-Content-Type-Options" => &["nosniff"],
        "X-Frame-Options" => &["deny", "sameorigin"],
        _ => {
            return Err(format!(
                "http_server_config.headers: {name:?} can not be configured"
            ))
        }
    };
    if value.contains(['\r', '\n']) {
        return Err(format!(
            "http_server_config.headers: {name}: a line break in the value"
        ));
    }
    if !allowed.is_empty() && !allowed.contains(&value) {
        return Err(format!(
            "http_server_config.headers: {name}: expected one of {allowed:?}, got {value:?}"
        ));
    }
    Ok(())
}

fn in_dir(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// PEM text from `file` (relative to `dir`) or inline `text`.
fn pem(
    what: &str,
    file: Option<&String>,
    text: Option<&String>,
    dir: &Path,
) -> Result<Option<Vec<u8>>, String> {
    match (file, text) {
        (Some(_), Some(_)) => Err(format!(
            "tls_server_config: give {what}_file or {what}, not both"
        )),
        (Some(f), None) => {
            let p = in_dir(dir, f);
            std::fs::read(&p)
                .map(Some)
                .map_err(|e| format!("tls_server_config.{what}_file {}: {e}", p.display()))
        }
        (None, Some(t)) => Ok(Some(t.clone().into_bytes())),
        (None, None) => Ok(None),
    }
}

fn version(
    v: Option<&str>,
    default: &'static rustls::SupportedProtocolVersion,
    key: &str,
) -> Result<&'static rustls::SupportedProtocolVersion, String> {
    match v {
        None => Ok(default),
        Some("TLS12") => Ok(&rustls::version::TLS12),
        Some("TLS13") => Ok(&rustls::version::TLS13),
        Some(v @ ("TLS10" | "TLS11")) => Err(format!(
            "tls_server_config.{key}: {v} is not supported (rustls speaks TLS12 and TLS13 only)"
        )),
        Some(v) => Err(format!(
            "tls_server_config.{key}: unknown TLS version {v:?} (TLS12 or TLS13)"
        )),
    }
}

fn server_config(t: &TlsFile, dir: &Path) -> Result<rustls::ServerConfig, String> {
    if t.client_allowed_sans.is_some() {
        return Err(
            "tls_server_config.client_allowed_sans is not supported by porttop; \
                    limit the client CA instead"
                .into(),
        );
    }
    let cert = pem("cert", t.cert_file.as_ref(), t.cert.as_ref(), dir)?
        .ok_or("tls_server_config: missing one of cert or cert_file")?;
    let key = pem("key", t.key_file.as_ref(), t.key.as_ref(), dir)?
        .ok_or("tls_server_config: missing one of key or key_file")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls_server_config: cert: {e}"))?;
    if certs.is_empty() {
        return Err("tls_server_config: cert: no PEM certificate found".into());
    }
    let key =
        PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("tls_server_config: key: {e}"))?;

    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = &t.cipher_suites {
        restrict_suites(&mut provider, names)?;
    }
    if let Some(names) = &t.curve_preferences {
        order_groups(&mut provider, names)?;
    }
    let provider = Arc::new(provider);

    let min = version(
        t.min_version.as_deref(),
        &rustls::version::TLS12,
        "min_version",
    )?;
    let max = version(
        t.max_version.as_deref(),
        &rustls::version::TLS13,
        "max_version",
    )?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match (min.version, max.version)
    {
        (a, b) if a == b => vec![min],
        (rustls::ProtocolVersion::TLSv1_2, rustls::ProtocolVersion::TLSv1_3) => {
            vec![&rustls::version::TLS13, &rustls::version::TLS12]
        }
        _ => return Err("tls_server_config: min_version is above max_version".into()),
    };
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;

    let ca = pem(
        "client_ca",
        t.client_ca_file.as_ref(),
        t.client_ca.as_ref(),
        dir,
    )?;
    let mode = t.client_auth_type.as_deref().unwrap_or("");
    let verify = match mode {
        "" | "NoClientCert" => None,
        "VerifyClientCertIfGiven" => Some(false),
        "RequireAndVerifyClientCert" => Some(true),
        "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
            return Err(format!(
                "tls_server_config.client_auth_type: {mode} (certificates accepted \
                 unverified) is not supported; use VerifyClientCertIfGiven or \
                 RequireAndVerifyClientCert with client_ca_file"
            ))
        }
        other => {
            return Err(format!(
                "tls_server_config.client_auth_type: invalid value {other:?}"
            ))
        }
    };
    let builder = match (verify, ca) {
        (None, None) => builder.with_no_client_auth(),
        (None, Some(_)) => {
            return Err(
                "tls_server_config: client CA's have been configured without a \
                        client_auth_type"
                    .into(),
            )
        }
        (Some(_), None) => {
            return Err(format!(
                "tls_server_config.client_auth_type: {mode} needs client_ca_file"
            ))
        }
        (Some(mandatory), Some(ca)) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&ca) {
                let c = c.map_err(|e| format!("tls_server_config: client_ca: {e}"))?;
                roots
                    .add(c)
                    .map_err(|e| format!("tls_server_config: client_ca: {e}"))?;
            }
            if roots.is_empty() {
                return Err("tls_server_config: client_ca: no PEM certificate found".into());
            }
            let mut v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            );
            if !mandatory {
                v = v.allow_unauthenticated();
            }
            let v = v
                .build()
                .map_err(|e| format!("tls_server_config: client_ca: {e}"))?;
            builder.with_client_cert_verifier(v)
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: cert and key: {e}"))?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    // HTTP/1.1 only: a client that insists on h2 fails the handshake instead of
    // sending frames the server cannot read.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Go's `cipher_suites` applies to TLS 1.2 only (TLS 1.3 suites are fixed), by
/// the IANA names that rustls also uses.
fn restrict_suites(p: &mut CryptoProvider, names: &[String]) -> Result<(), String> {
    let known: Vec<String> = p
        .cipher_suites
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS12)
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    for n in names {
        if !known.contains(n) {
            return Err(format!(
                "tls_server_config.cipher_suites: {n:?} is not available (rustls offers {})",
                known.join(", ")
            ));
        }
    }
    p.cipher_suites.retain(|s| {
        s.version() == &rustls::version::TLS13 || names.contains(&format!("{:?}", s.suite()))
    });
    Ok(())
}

/// Go's curve names, in the order given.
fn order_groups(p: &mut CryptoProvider, names: &[String]) -> Result<(), String> {
    let mut groups = Vec::new();
    for n in names {
        let want = match n.as_str() {
            "X25519" => rustls::NamedGroup::X25519,
            "CurveP256" => rustls::NamedGroup::secp256r1,
            "CurveP384" => rustls::NamedGroup::secp384r1,
            other => {
                return Err(format!(
                    "tls_server_config.curve_preferences: {other:?} is not available \
                     (X25519, CurveP256, CurveP384)"
                ))
            }
        };
        if let Some(g) = p.kx_groups.iter().find(|g| g.name() == want) {
            groups.push(*g);
        }
    }
    p.kx_groups = groups;
    Ok(())
}

/// What the configuration amounts to, for the start-up line.
pub fn describe(a: &Access) -> String {
    match (a.tls.is_some(), a.auth.is_some()) {
        (true, true) => "TLS, basic auth".into(),
        (true, false) => "TLS".into(),
        (false, true) => "basic auth over plain HTTP".into(),
        (false, false) => "plain HTTP".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for localhost in `dir`.
    fn certs(dir: &Path) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join("c.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
    }

    fn err(yaml: &str, dir: &Path) -> String {
        match parse(yaml, dir) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(e) => e,
        }
    }

    #[test]
    fn empty_and_auth_only_files_are_plain_http() {
        let d = tempfile::tempdir().unwrap();
        let a = parse("", d.path()).unwrap();
        assert!(a.tls.is_none() && a.auth.is_none());
        let a = parse("# nothing\n", d.path()).unwrap();
        assert!(a.tls.is_none());
        let hash = bcrypt::hash("pw", 4).unwrap();
        let a = parse(&format!("basic_auth_users:\n  prom: '{hash}'\n"), d.path()).unwrap();
        assert!(a.tls.is_none() && a.auth.is_some());
        assert_eq!(describe(&a), "basic auth over plain HTTP");
    }

    #[test]
    fn tls_loads_relative_paths_and_the_toolkit_options() {
        let d = tempfile::tempdir().unwrap();
        certs(d.path());
        let base = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";
        let a = parse(base, d.path()).unwrap();
        assert!(a.tls.is_some());
        let cfg = a.tls.unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let full = format!(
            "{base}  min_version: TLS13\n  max_version: TLS13\n  \
             curve_preferences: [X25519, CurveP256]\n  \
             cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  \
             prefer_server_cipher_suites: false\n\
             http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
        );
        let a = parse(&full, d.path()).unwrap();
        assert_eq!(a.headers, vec!["X-Frame-Options: deny".to_string()]);
        // Inline PEM works too.
        let inline = format!(
            "tls_server_config:\n  cert: |\n{}  key: |\n{}",
            indent(&std::fs::read_to_string(d.path().join("c.pem")).unwrap()),
            indent(&std::fs::read_to_string(d.path().join("k.pem")).unwrap()),
        );
        assert!(parse(&inline, d.path()).unwrap().tls.is_some());
    }

    fn indent(pem: &str) -> String {
        pem.lines().map(|l| format!("    {l}\n")).collect()
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_with_the_reason() {
        let d = tempfile::tempdir().unwrap();
        certs(d.path());
        let base = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";
        for (extra, says) in [
            ("  min_version: TLS11\n", "TLS11"),
            (
                "  min_version: TLS13\n  max_version: TLS12\n",
                "above max_version",
            ),
            ("  min_version: SSL3\n", "unknown TLS version"),
            (
                "  client_auth_type: RequireAnyClientCert\n  client_ca_file: c.pem\n",
                "not supported",
            ),
            (
                "  client_auth_type: RequireAndVerifyClientCert\n",
                "needs client_ca_file",
            ),
            ("  client_ca_file: c.pem\n", "without a client_auth_type"),
            ("  client_auth_type: Sometimes\n", "invalid value"),
            ("  client_allowed_sans: [a]\n", "client_allowed_sans"),
            (
                "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
                "not available",
            ),
            ("  curve_preferences: [CurveP521]\n", "not available"),
            ("  cert_fle: x\n", "unknown field `cert_fle`"),
        ] {
            let e = err(&format!("{base}{extra}"), d.path());
            assert!(e.contains(says), "{extra}: {e}");
        }
        assert!(err("tls_server_config:\n  cert_file: c.pem\n", d.path()).contains("key"));
        assert!(err(
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: k.pem\n",
            d.path()
        )
        .contains("nope.pem"));
        let e = err(
            "tls_server_config:\n  cert_file: k.pem\n  key_file: k.pem\n",
            d.path(),
        );
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = err("basic_auth_users:\n  prom: secret\n", d.path());
        assert!(e.contains("not a bcrypt hash"), "{e}");
        let e = err(
            "http_server_config:\n  headers:\n    Set-Cookie: a\n",
            d.path(),
        );
        assert!(e.contains("can not be configured"), "{e}");
        let e = err(
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            d.path(),
        );
        assert!(e.contains("expected one of"), "{e}");
        let e = err("rate_limit:\n  burst: 3\n", d.path());
        assert!(e.contains("rate_limit"), "{e}");
        let e = err("tls_server_config: [\n", d.path());
        assert!(e.contains("line"), "{e}");
    }
}
