//! The envelopes of the short connection (protocol §1.5–§1.6): the signed query and the
//! `encrypt` field of a callback, and the signed, encrypted passive answer.

use std::borrow::Cow;

use serde_json::Value;

use crate::crypto;
use crate::routes::percent_decode;

/// Why a callback's envelope cannot be read. Names what is wrong, never a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The query string has a malformed escape or is not UTF-8.
    #[error("the query string is malformed")]
    MalformedQuery,
    /// `msg_signature`, `timestamp` or `nonce` is missing.
    #[error("the callback is not signed: msg_signature, timestamp and nonce are all required")]
    Unsigned,
    /// The body has no `encrypt` field (a plaintext callback: never accepted).
    #[error("the body has no encrypt field")]
    NoEncrypt,
    /// The body is neither a JSON object nor an XML envelope.
    #[error("the body is neither a JSON object nor an XML envelope")]
    Malformed,
}

/// The signature parameters of a callback's query, borrowed from it unless escaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed<'a> {
    /// `msg_signature` (aliases `msgsignature`, `signature`).
    pub signature: Cow<'a, str>,
    /// `timestamp` as sent (seconds).
    pub timestamp: Cow<'a, str>,
    /// `nonce`: the passive answer must carry the same.
    pub nonce: Cow<'a, str>,
}

/// `s` with its %-escapes decoded, borrowed when it has none; `None` when malformed.
fn decoded(s: &str) -> Option<Cow<'_, str>> {
    if s.as_bytes().contains(&b'%') {
        percent_decode(s).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(s))
    }
}

/// Reads the signature parameters of a callback's query string (the first value of each; only
/// these three are decoded, so other parameters cost nothing).
pub fn signed_query<'a>(query: &'a str) -> Result<Signed<'a>, EnvelopeError> {
    let (mut signature, mut alias, mut timestamp, mut nonce) = (None, None, None, None);
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = match part.as_bytes().iter().position(|&b| b == b'=') {
            Some(at) => (&part[..at], &part[at + 1..]),
            None => (part, ""),
        };
        let key = decoded(key).ok_or(EnvelopeError::MalformedQuery)?;
        let slot = match key.as_ref() {
            "msg_signature" => &mut signature,
            "msgsignature" | "signature" => &mut alias,
            "timestamp" => &mut timestamp,
            "nonce" => &mut nonce,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(decoded(value).ok_or(EnvelopeError::MalformedQuery)?);
        }
    }
    let present = |v: Option<Cow<'a, str>>| v.filter(|v| !v.is_empty());
    match (present(signature).or(present(alias)), present(timestamp), present(nonce)) {
        (Some(signature), Some(timestamp), Some(nonce)) => Ok(Signed { signature, timestamp, nonce }),
        _ => Err(EnvelopeError::Unsigned),
    }
}

/// The `encrypt` field of a callback body: JSON `{"encrypt"}` (or `Encrypt`), or tolerated XML
/// `<xml><Encrypt>…</Encrypt></xml>` (with or without CDATA).
pub fn encrypt_field(body: &[u8]) -> Result<Cow<'_, [u8]>, EnvelopeError> {
    if let Some(encrypt) = exact_json_envelope(body) {
        return Ok(Cow::Borrowed(encrypt));
    }
    let text = std::str::from_utf8(body).map_err(|_| EnvelopeError::Malformed)?.trim();
    if text.is_empty() {
        return Err(EnvelopeError::NoEncrypt);
    }
    if text.starts_with('<') {
        return xml_encrypt(text);
    }
    // The common case borrows the field straight from the body (no tree, no copy unless the
    // JSON escapes a character); anything unusual is looked at as a tree to say what is wrong.
    if let Ok(fast) = serde_json::from_str::<JsonEnvelope<'_>>(text) {
        if let Some(encrypt) = fast.encrypt.or(fast.encrypt_upper).filter(|e| !e.is_empty()) {
            return Ok(bytes(encrypt));
        }
    }
    let value: Value = serde_json::from_str(text).map_err(|_| EnvelopeError::Malformed)?;
    if !value.is_object() {
        return Err(EnvelopeError::Malformed);
    }
    value
        .get("encrypt")
        .or_else(|| value.get("Encrypt"))
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .map(|e| Cow::Owned(e.as_bytes().to_vec()))
        .ok_or(EnvelopeError::NoEncrypt)
}

fn bytes(s: Cow<'_, str>) -> Cow<'_, [u8]> {
    match s {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// The value of a body that is exactly `{"encrypt":"…"}`, as WeCom sends it, when the value is
/// printable ASCII with no quote or backslash: then the JSON string is its own text and no parser
/// needs to look at it (one pass, a fold without early exit that the compiler vectorizes).
fn exact_json_envelope(body: &[u8]) -> Option<&[u8]> {
    let inner = body.strip_prefix(br#"{"encrypt":""#)?.strip_suffix(br#""}"#)?;
    let literal = inner.iter().fold(true, |ok, &b| ok & (0x20..0x7f).contains(&b) & (b != b'"') & (b != b'\\'));
    (literal && !inner.is_empty()).then_some(inner)
}

/// A JSON envelope whose `encrypt` (or `Encrypt`) is a string.
#[derive(serde::Deserialize)]
struct JsonEnvelope<'a> {
    #[serde(borrow, default)]
    encrypt: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "Encrypt")]
    encrypt_upper: Option<Cow<'a, str>>,
}

fn xml_encrypt(text: &str) -> Result<Cow<'_, [u8]>, EnvelopeError> {
    let start = text.find("<Encrypt>").ok_or(EnvelopeError::NoEncrypt)? + "<Encrypt>".len();
    let len = text[start..].find("</Encrypt>").ok_or(EnvelopeError::Malformed)?;
    let inner = text[start..start + len].trim();
    let inner = inner.strip_prefix("<![CDATA[").and_then(|i| i.strip_suffix("]]>")).unwrap_or(inner).trim();
    if inner.is_empty() {
        return Err(EnvelopeError::NoEncrypt);
    }
    Ok(Cow::Borrowed(inner.as_bytes()))
}

/// The passive answer carrying `plain` (a reply body's JSON text): encrypted with `key` and
/// receive id `""`, signed with `token` over the callback's own `nonce` (protocol §1.6); its JSON
/// text, written straight from its four fields (no JSON tree per answer).
pub fn passive(token: &str, key: &[u8; 32], plain: &str, timestamp_secs: i64, nonce: &str) -> String {
    /// The answer's fields, in WeCom's order.
    #[derive(serde::Serialize)]
    struct Passive<'a> {
        encrypt: &'a str,
        msgsignature: &'a str,
        timestamp: i64,
        nonce: &'a str,
    }
    let encrypt = crypto::encrypt(key, plain, "");
    let timestamp = timestamp_secs.to_string();
    let signature = crypto::signature(token, &timestamp, nonce, &encrypt);
    let answer = Passive { encrypt: &encrypt, msgsignature: &signature, timestamp: timestamp_secs, nonce };
    // Four strings and a number: serializing cannot fail.
    serde_json::to_string(&answer).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`encrypt_field`] as text, for comparisons.
    fn field(body: &[u8]) -> Result<String, EnvelopeError> {
        encrypt_field(body).map(|e| String::from_utf8(e.into_owned()).expect("UTF-8"))
    }

    #[test]
    fn the_signed_query_needs_all_three_and_accepts_the_aliases() {
        let s = signed_query("msg_signature=abc&timestamp=1&nonce=n%2B1").unwrap();
        assert_eq!(s, Signed { signature: "abc".into(), timestamp: "1".into(), nonce: "n+1".into() });
        assert_eq!(signed_query("msgsignature=abc&timestamp=1&nonce=2").unwrap().signature, "abc");
        assert_eq!(signed_query("signature=abc&timestamp=1&nonce=2").unwrap().signature, "abc");
        assert_eq!(signed_query("timestamp=1&nonce=2"), Err(EnvelopeError::Unsigned));
        assert_eq!(signed_query("msg_signature=&timestamp=1&nonce=2"), Err(EnvelopeError::Unsigned));
        assert_eq!(signed_query(""), Err(EnvelopeError::Unsigned));
        assert_eq!(signed_query("nonce=%zz"), Err(EnvelopeError::MalformedQuery));
        assert_eq!(signed_query("n%6Fnce=%zz"), Err(EnvelopeError::MalformedQuery), "escaped names are read too");
        let s = signed_query("x=%zz&msg_signature=a&msg_signature=b&timestamp=1&nonce=2&signature=c").unwrap();
        assert_eq!(s.signature, "a", "the first value, and msg_signature before its aliases");
    }

    #[test]
    fn the_encrypt_field_is_found_in_json_and_in_tolerated_xml() {
        assert_eq!(field(br#"{"encrypt":"AAA="}"#).unwrap(), "AAA=");
        assert_eq!(exact_json_envelope(br#"{"encrypt":"AAA="}"#), Some(&b"AAA="[..]), "the exact form needs no parser");
        // Anything else goes through the JSON parser, which reads it as JSON reads it.
        assert_eq!(exact_json_envelope(br#"{"encrypt":"a\/b"}"#), None);
        assert_eq!(exact_json_envelope(br#"{"encrypt":"a","x":"b"}"#), None);
        assert_eq!(field(br#"{"encrypt":"a","x":"b"}"#).unwrap(), "a");
        assert_eq!(exact_json_envelope(b"{\"encrypt\":\"a\x01b\"}"), None);
        assert_eq!(field(b"{\"encrypt\":\"a\x01b\"}"), Err(EnvelopeError::Malformed));
        assert_eq!(exact_json_envelope("{\"encrypt\":\"é\"}".as_bytes()), None, "non-ASCII takes the parser");
        assert_eq!(field("{\"encrypt\":\"é\"}".as_bytes()).unwrap(), "é");
        assert_eq!(exact_json_envelope(b"{\"encrypt\":\"\xff\"}"), None);
        assert_eq!(field(b"{\"encrypt\":\"\xff\"}"), Err(EnvelopeError::Malformed));
        assert_eq!(exact_json_envelope(br#"{"encrypt":""}"#), None);
        assert_eq!(field(br#" {"Encrypt":"BBB="} "#).unwrap(), "BBB=");
        assert_eq!(field(br#"{"encrypt":"a\/b+c=","tousername":"x","agentid":1}"#).unwrap(), "a/b+c=");
        assert_eq!(field(b"<xml><Encrypt><![CDATA[CCC=]]></Encrypt></xml>").unwrap(), "CCC=");
        assert_eq!(field(b"<xml><Encrypt>DDD=</Encrypt></xml>").unwrap(), "DDD=");
        // Plaintext callbacks (the original plugin's gap) are never read.
        assert_eq!(field(br#"{"msgtype":"text","text":{"content":"hi"}}"#), Err(EnvelopeError::NoEncrypt));
        assert_eq!(field(br#"{"encrypt":""}"#), Err(EnvelopeError::NoEncrypt));
        assert_eq!(field(br#"{"encrypt":42}"#), Err(EnvelopeError::NoEncrypt));
        assert_eq!(field(b""), Err(EnvelopeError::NoEncrypt));
        assert_eq!(field(b"<xml><MsgType>text</MsgType></xml>"), Err(EnvelopeError::NoEncrypt));
        assert_eq!(field(b"<xml><Encrypt>EEE="), Err(EnvelopeError::Malformed));
        assert_eq!(field(b"hello"), Err(EnvelopeError::Malformed));
        assert_eq!(field(b"[1,2]"), Err(EnvelopeError::Malformed));
        assert_eq!(field(&[0xff, 0xfe]), Err(EnvelopeError::Malformed));
    }

    #[test]
    fn the_official_xml_sample_envelope_opens() {
        let xml = "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>";
        let encrypt = field(xml.as_bytes()).unwrap();
        let token = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
        let signed = signed_query(
            "msg_signature=0c3914025cb4b4d68103f6bfc8db550f79dcf48e&timestamp=1476422779&nonce=1597212914",
        )
        .unwrap();
        assert_eq!(
            crypto::verify_signature(token, &signed.timestamp, &signed.nonce, &encrypt, &signed.signature),
            Ok(())
        );
    }

    #[test]
    fn a_passive_answer_is_signed_over_the_callbacks_nonce_and_decrypts_with_an_empty_receive_id() {
        let key = crypto::decode_encoding_aes_key("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt").unwrap();
        let answer: Value =
            serde_json::from_str(&passive("tok", &key, r#"{"msgtype":"stream"}"#, 1_700_000_000, "n\"1")).unwrap();
        assert_eq!(answer["nonce"], "n\"1", "escaped where JSON needs it");
        assert_eq!(answer["timestamp"], 1_700_000_000);
        let encrypt = answer["encrypt"].as_str().unwrap();
        assert_eq!(answer["msgsignature"], crypto::signature("tok", "1700000000", "n\"1", encrypt));
        assert_eq!(crypto::decrypt(&key, encrypt, "").unwrap(), r#"{"msgtype":"stream"}"#);
    }
}
