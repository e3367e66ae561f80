//! AES-256-CBC decryption (callbacks, media files): four blocks per instruction with VAES on
//! x86-64 CPUs that have it (AVX-512), the `aes` and `cbc` crates everywhere else.
//!
//! Why it exists: decrypting a 1 KiB callback took the crates twice as long as OpenSSL, which
//! uses the same instructions. CBC decryption is parallel (each block needs only its own
//! ciphertext and the one before), so a 512-bit register decrypts four blocks at once. The
//! fast way is checked against the crates on random keys, IVs and lengths (this module's tests)
//! and by WeCom's own vectors (`crypto`'s tests).

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, InnerIvInit, KeyInit};

/// An AES-256 key ready for CBC decryption: its round keys expanded once.
#[derive(Clone)]
pub struct DecryptKey {
    portable: aes::Aes256Dec,
    /// The decryption round keys for VAES, when the CPU has it.
    #[cfg(target_arch = "x86_64")]
    vaes: Option<[[u8; 16]; 15]>,
}

impl DecryptKey {
    /// Expands `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        DecryptKey {
            portable: aes::Aes256Dec::new(key.into()),
            #[cfg(target_arch = "x86_64")]
            vaes: x86::has_vaes().then(|| {
                // SAFETY: `has_vaes` found AES-NI (and more) on this CPU.
                unsafe { x86::decryption_round_keys(key) }
            }),
        }
    }

    /// Decrypts `buf` (a whole number of 16-byte blocks) in place with `iv`; `false` (and `buf`
    /// unchanged) when its length is not a whole number of blocks.
    pub fn decrypt_in_place(&self, iv: &[u8; 16], buf: &mut [u8]) -> bool {
        if !buf.len().is_multiple_of(16) {
            return false;
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(round_keys) = &self.vaes {
            // SAFETY: the round keys exist only where `has_vaes` found the CPU features, and the
            // length is a whole number of blocks.
            unsafe { x86::decrypt_cbc(round_keys, iv, buf) };
            return true;
        }
        let cbc = cbc::Decryptor::<aes::Aes256Dec>::inner_iv_init(self.portable.clone(), iv.into());
        cbc.decrypt_padded_mut::<NoPadding>(buf).is_ok()
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Whether this CPU decrypts with VAES on 512-bit registers (checked once).
    pub fn has_vaes() -> bool {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| {
            is_x86_feature_detected!("aes")
                && is_x86_feature_detected!("sse2")
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("vaes")
        })
    }

    /// One step of the AES-256 key schedule: the next even round key from the previous even
    /// one and the `aeskeygenassist` of the previous odd one (FIPS 197 §5.2, Intel's
    /// formulation).
    #[target_feature(enable = "aes,sse2")]
    fn even_round_key(previous: __m128i, assist: __m128i) -> __m128i {
        let assist = _mm_shuffle_epi32::<0xff>(assist);
        let mut key = previous;
        let mut shifted = _mm_slli_si128::<4>(previous);
        key = _mm_xor_si128(key, shifted);
        shifted = _mm_slli_si128::<4>(shifted);
        key = _mm_xor_si128(key, shifted);
        shifted = _mm_slli_si128::<4>(shifted);
        key = _mm_xor_si128(key, shifted);
        _mm_xor_si128(key, assist)
    }

    /// The next odd round key from the previous odd one and the new even one.
    #[target_feature(enable = "aes,sse2")]
    fn odd_round_key(previous: __m128i, even: __m128i) -> __m128i {
        let assist = _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(even));
        let mut key = previous;
        let mut shifted = _mm_slli_si128::<4>(previous);
        key = _mm_xor_si128(key, shifted);
        shifted = _mm_slli_si128::<4>(shifted);
        key = _mm_xor_si128(key, shifted);
        shifted = _mm_slli_si128::<4>(shifted);
        key = _mm_xor_si128(key, shifted);
        _mm_xor_si128(key, assist)
    }

    /// The 15 round keys of the equivalent inverse cipher (what `aesdec` expects): the
    /// encryption schedule reversed, the inner 13 through InvMixColumns.
    ///
    /// # Safety
    /// The CPU must have AES-NI and SSE2.
    #[target_feature(enable = "aes,sse2")]
    pub unsafe fn decryption_round_keys(key: &[u8; 32]) -> [[u8; 16]; 15] {
        let mut enc = [_mm_setzero_si128(); 15];
        // SAFETY: both loads read 16 bytes inside the 32-byte key (unaligned loads).
        enc[0] = unsafe { _mm_loadu_si128(key.as_ptr().cast()) };
        enc[1] = unsafe { _mm_loadu_si128(key.as_ptr().add(16).cast()) };
        macro_rules! even {
            ($i:expr, $rcon:literal) => {
                enc[$i] = even_round_key(enc[$i - 2], _mm_aeskeygenassist_si128::<$rcon>(enc[$i - 1]))
            };
        }
        macro_rules! odd {
            ($i:expr) => {
                enc[$i] = odd_round_key(enc[$i - 2], enc[$i - 1])
            };
        }
        even!(2, 0x01);
        odd!(3);
        even!(4, 0x02);
        odd!(5);
        even!(6, 0x04);
        odd!(7);
        even!(8, 0x08);
        odd!(9);
        even!(10, 0x10);
        odd!(11);
        even!(12, 0x20);
        odd!(13);
        even!(14, 0x40);
        let mut dec = [[0u8; 16]; 15];
        for (i, out) in dec.iter_mut().enumerate() {
            let k = match i {
                0 => enc[14],
                14 => enc[0],
                _ => _mm_aesimc_si128(enc[14 - i]),
            };
            // SAFETY: `out` is 16 writable bytes.
            unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), k) };
        }
        dec
    }

    /// CBC-decrypts `buf` in place: 64 bytes (four blocks) per step with VAES, the rest one block
    /// at a time with AES-NI.
    ///
    /// # Safety
    /// The CPU must have the features [`has_vaes`] checks, and `buf.len()` must be a multiple of 16.
    #[target_feature(enable = "aes,sse2,avx512f,vaes")]
    pub unsafe fn decrypt_cbc(round_keys: &[[u8; 16]; 15], iv: &[u8; 16], buf: &mut [u8]) {
        debug_assert_eq!(buf.len() % 16, 0);
        // SAFETY (all loads and stores below): every pointer stays inside `round_keys`, `iv` or
        // `buf`; a chunk of 64 bytes starts at `c * 64` with `c < buf.len() / 64`, and a block
        // at `b * 16` with `b < buf.len() / 16`.
        let keys: [__m128i; 15] = std::array::from_fn(|i| unsafe { _mm_loadu_si128(round_keys[i].as_ptr().cast()) });
        let wide: [__m512i; 15] = std::array::from_fn(|i| _mm512_broadcast_i32x4(keys[i]));
        // The ciphertext block before the next one (the IV first): kept in a register, since the
        // block itself is overwritten by then.
        let mut previous = unsafe { _mm_loadu_si128(iv.as_ptr().cast()) };
        let base = buf.as_mut_ptr();
        let chunks = buf.len() / 64;
        for c in 0..chunks {
            let at = unsafe { base.add(c * 64) };
            let cipher = unsafe { _mm512_loadu_si512(at.cast()) };
            // [previous, C0, C1, C2]: each block's predecessor.
            let chain = _mm512_alignr_epi64::<6>(cipher, _mm512_broadcast_i32x4(previous));
            let mut state = _mm512_xor_si512(cipher, wide[0]);
            for key in &wide[1..14] {
                state = _mm512_aesdec_epi128(state, *key);
            }
            state = _mm512_aesdeclast_epi128(state, wide[14]);
            previous = _mm512_extracti32x4_epi32::<3>(cipher);
            unsafe { _mm512_storeu_si512(at.cast(), _mm512_xor_si512(state, chain)) };
        }
        for b in chunks * 4..buf.len() / 16 {
            let at = unsafe { base.add(b * 16) };
            let cipher = unsafe { _mm_loadu_si128(at.cast()) };
            let mut state = _mm_xor_si128(cipher, keys[0]);
            for key in &keys[1..14] {
                state = _mm_aesdec_si128(state, *key);
            }
            state = _mm_aesdeclast_si128(state, keys[14]);
            unsafe { _mm_storeu_si128(at.cast(), _mm_xor_si128(state, previous)) };
            previous = cipher;
        }
    }
}

#[cfg(test)]
mod tests {
    use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
    use proptest::prelude::*;

    use super::DecryptKey;

    /// The crates' CBC decryption, the reference.
    fn reference(key: &[u8; 32], iv: &[u8; 16], cipher: &[u8]) -> Vec<u8> {
        let mut buf = cipher.to_vec();
        cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into()).decrypt_padded_mut::<NoPadding>(&mut buf).unwrap();
        buf
    }

    #[test]
    fn the_fips_197_aes_256_vector_decrypts() {
        // FIPS 197 Appendix C.3, as CBC with a zero IV (one block: the IV XOR is a no-op).
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let cipher = hex::decode("8ea2b7ca516745bfeafc49904b496089").unwrap();
        let mut buf = cipher.clone();
        assert!(DecryptKey::new(&key).decrypt_in_place(&[0; 16], &mut buf));
        assert_eq!(hex::encode(buf), "00112233445566778899aabbccddeeff");
    }

    #[test]
    fn a_length_that_is_not_whole_blocks_is_refused_unchanged() {
        let mut buf = vec![7u8; 33];
        assert!(!DecryptKey::new(&[1; 32]).decrypt_in_place(&[0; 16], &mut buf));
        assert_eq!(buf, vec![7u8; 33]);
    }

    proptest! {
        #[test]
        fn decrypts_as_the_aes_crate_does(key in any::<[u8; 32]>(), iv in any::<[u8; 16]>(), blocks in 0usize..40, seed in any::<u8>()) {
            let plain: Vec<u8> = (0..blocks * 16).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let mut cipher = plain.clone();
            let len = cipher.len();
            cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into())
                .encrypt_padded_mut::<NoPadding>(&mut cipher, len)
                .unwrap();
            let mut buf = cipher.clone();
            prop_assert!(DecryptKey::new(&key).decrypt_in_place(&iv, &mut buf));
            prop_assert_eq!(&buf, &plain);
            prop_assert_eq!(buf, reference(&key, &iv, &cipher));
        }
    }
}
