//! Member-facing tokens: the electronic membership card a phone shows at the till, and the
//! share (referral) code a member passes to a friend. Both travel in the signed envelope, so
//! neither can be forged, altered or passed off as another kind of token.

use crate::ids::MemberId;
use crate::keys::{Keyring, Scope, Verifier};
use crate::membership::member::CardNumber;
use crate::rejection::Rejection;
use crate::token::wire::Reader;
use crate::token::{Token, TokenError, TokenKind};
use crate::voucher::{open_text, rejection_of_token_error};

/// The membership-card token for `member` holding `card`.
///
/// # Errors
/// [`crate::KeyError::NoActiveKey`] (as [`crate::Error::Key`]).
pub fn membership_card(
    keyring: &Keyring,
    member: MemberId,
    card: &CardNumber,
) -> Result<Token, crate::Error> {
    keyring.seal(
        TokenKind::MembershipCard,
        keyring.merchant(),
        Scope::Any,
        |w| {
            w.u64_le(member.0);
            w.varint(card.serial());
        },
    )
}

/// Reads a scanned membership card: the member and their card number.
///
/// # Errors
/// The signature-stage [`Rejection`] (malformed, wrong kind or merchant, unknown or retired
/// key, bad signature).
pub fn verify_membership_card<V: Verifier + ?Sized>(
    text: &str,
    keyring: &V,
) -> Result<(MemberId, CardNumber), Rejection> {
    let (body, _) = open_text(text, keyring, TokenKind::MembershipCard)?;
    let mut r = Reader::new(&body);
    let fields = (|| {
        let member = MemberId(r.u64_le("member")?);
        let card = CardNumber::from_serial(r.varint("card")?)
            .map_err(|_| TokenError::InvalidField("card"))?;
        if !r.is_empty() {
            return Err(TokenError::TrailingBytes);
        }
        Ok((member, card))
    })();
    fields.map_err(|e| rejection_of_token_error(&e))
}

/// The share code of `member`: a friend who enrolls through it is recorded as referred by
/// them.
///
/// # Errors
/// [`crate::KeyError::NoActiveKey`] (as [`crate::Error::Key`]).
pub fn share_code(keyring: &Keyring, member: MemberId) -> Result<Token, crate::Error> {
    keyring.seal(TokenKind::Share, keyring.merchant(), Scope::Any, |w| {
        w.u64_le(member.0)
    })
}

/// Reads a scanned share code: the referring member.
///
/// # Errors
/// The signature-stage [`Rejection`].
pub fn verify_share_code<V: Verifier + ?Sized>(
    text: &str,
    keyring: &V,
) -> Result<MemberId, Rejection> {
    let (body, _) = open_text(text, keyring, TokenKind::Share)?;
    let mut r = Reader::new(&body);
    let member = r
        .u64_le("member")
        .map_err(|e| rejection_of_token_error(&e))?;
    if !r.is_empty() {
        return Err(Rejection::Malformed);
    }
    Ok(MemberId(member))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{KeyId, MerchantId};
    use crate::keys::SigningKey;

    fn ring() -> Keyring {
        Keyring::with_active_key(
            MerchantId(88),
            KeyId(1),
            SigningKey::from_bytes(&[5; 32]).unwrap(),
        )
    }

    #[test]
    fn cards_and_share_codes_round_trip_and_keep_their_kind() {
        let ring = ring();
        let card = CardNumber::from_serial(123_456).unwrap();
        let card_text = membership_card(&ring, MemberId(7), &card)
            .unwrap()
            .to_scanner_text();
        assert_eq!(
            verify_membership_card(&card_text, &ring),
            Ok((MemberId(7), card.clone()))
        );
        let share_text = share_code(&ring, MemberId(7)).unwrap().to_scanner_text();
        assert_eq!(verify_share_code(&share_text, &ring), Ok(MemberId(7)));
        // One kind cannot pose as the other.
        assert_eq!(
            verify_share_code(&card_text, &ring),
            Err(Rejection::WrongKind)
        );
        assert_eq!(
            verify_membership_card(&share_text, &ring),
            Err(Rejection::WrongKind)
        );
    }

    #[test]
    fn altered_or_foreign_codes_are_refused() {
        let ring = ring();
        let text = share_code(&ring, MemberId(7)).unwrap().to_scanner_text();
        let mut altered = text.clone();
        let swap = if &altered[10..11] == "0" { "1" } else { "0" };
        altered.replace_range(10..11, swap);
        assert!(verify_share_code(&altered, &ring).is_err());
        let other = Keyring::with_active_key(
            MerchantId(89),
            KeyId(1),
            SigningKey::from_bytes(&[5; 32]).unwrap(),
        );
        assert_eq!(
            verify_share_code(&text, &other),
            Err(Rejection::WrongMerchant)
        );
        assert_eq!(
            verify_share_code("HELLO!", &ring),
            Err(Rejection::Malformed)
        );
    }
}
