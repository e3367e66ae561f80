//! Test-time PKI shared by the transport tests: a CA and a leaf for `localhost` and 127.0.0.1,
//! generated fresh by rcgen (an implementation independent of the PEM reader under test).

#![allow(dead_code)] // each test file uses part of it

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA file on disk and a server configuration presenting a leaf that CA signed.
pub struct Pki {
    /// The CA certificate, PEM, written to `ca_file`.
    pub ca_file: PathBuf,
    /// A rustls server configuration with the leaf certificate and its key.
    pub server_config: Arc<rustls::ServerConfig>,
    _dir: tempfile::TempDir,
}

/// A fresh CA (ECDSA P-256, ring) and a leaf for `localhost` and 127.0.0.1 signed by it.
pub fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "plugin-wecom test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("leaf params");
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf certificate");

    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("extra-ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).expect("write CA file");

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    Pki { ca_file, server_config: Arc::new(server_config), _dir: dir }
}
