//! Arbitrary bytes as a till's journal batch and as the head office's acknowledgement: the
//! readers never panic, a batch that decodes encodes back to the same batch, and a batch or
//! acknowledgement accepted under a till's journal key (the seeds hold genuine ones) is
//! exactly the bytes its fields encode to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use o2okit::{JournalBatch, JournalKey, MerchantId, MerchantSecret, SyncAck, TillId};

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = JournalBatch::decode(data) {
        let again = JournalBatch::decode(&batch.encode()).expect("an encoded batch decodes");
        assert_eq!(again, batch);
        let secret = MerchantSecret::from_bytes(&[0x5a; 32]).expect("32 bytes");
        let key = JournalKey::derive(&secret, batch.merchant, batch.till);
        if batch.check(&key).is_ok() {
            // Only the seeds' genuine batch gets here: a MAC the fuzzer cannot make.
            assert_eq!(batch.encode(), data, "an accepted batch is not canonical");
        }
        for record in &batch.records {
            let _ = record.entry();
        }
    }
    let secret = MerchantSecret::from_bytes(&[0x5a; 32]).expect("32 bytes");
    let key = JournalKey::derive(&secret, MerchantId(88), TillId(1));
    if let Ok(ack) = SyncAck::open(data, &key) {
        assert_eq!(ack.encode(&key), data, "an accepted acknowledgement is not canonical");
    }
});
