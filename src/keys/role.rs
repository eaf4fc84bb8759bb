//! What a key may sign, and for which store or till.

use crate::ids::{StoreId, TillId};
use crate::token::TokenKind;
use serde::{Deserialize, Serialize};

/// What a key may sign. A keyring signs a token only with an active key whose role covers it,
/// and a verifier refuses a token whose key's role does not
/// ([`Rejection::KeyNotPermitted`](crate::Rejection::KeyNotPermitted)).
///
/// In JSON (key sets): `"all"`, `"vouchers"`, `{"store_vouchers": 12}`, `"members"`,
/// `{"check_in": 12}`, `{"journal": 3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum KeyRole {
    /// Every kind of token, for every store: the single-shop setup, where every device that
    /// holds the key is trusted with everything.
    All,
    /// Vouchers valid anywhere: the head office's voucher key.
    Vouchers,
    /// Vouchers limited to this one store and no other (a sign-up kiosk's welcome offers): a
    /// stolen kiosk key can mint nothing that another store accepts.
    StoreVouchers(StoreId),
    /// Membership cards and share codes.
    Members,
    /// Check-in codes of this store: its screen's key.
    CheckIn(StoreId),
    /// This till's journal entries (offline sync): signs no token a customer holds.
    Journal(TillId),
}

/// What a token claims, beyond its kind, that a key's scope must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// Nothing store-specific (membership cards, share codes).
    Any,
    /// A voucher valid in these stores (empty: every store).
    VoucherStores(&'a [StoreId]),
    /// A check-in code of this store.
    Store(StoreId),
}

impl KeyRole {
    /// Whether a key of this role may sign tokens of `kind` at all (the scope aside).
    pub fn signs_kind(self, kind: TokenKind) -> bool {
        match self {
            KeyRole::All => true,
            KeyRole::Vouchers | KeyRole::StoreVouchers(_) => kind == TokenKind::Voucher,
            KeyRole::Members => matches!(kind, TokenKind::MembershipCard | TokenKind::Share),
            KeyRole::CheckIn(_) => kind == TokenKind::CheckIn,
            KeyRole::Journal(_) => false,
        }
    }

    /// Whether a key of this role may sign a token of `kind` claiming `scope`.
    pub(crate) fn permits(self, kind: TokenKind, scope: Scope<'_>) -> bool {
        if !self.signs_kind(kind) {
            return false;
        }
        match (self, scope) {
            (KeyRole::StoreVouchers(own), Scope::VoucherStores(stores)) => {
                !stores.is_empty() && stores.iter().all(|s| *s == own)
            }
            (KeyRole::StoreVouchers(_), _) => false,
            (KeyRole::CheckIn(own), Scope::Store(store)) => own == store,
            (KeyRole::CheckIn(_), _) => false,
            _ => true,
        }
    }

    /// How narrow the role is: 0 for all tokens, 1 for one kind chain-wide, 2 for one store or
    /// till. Signing prefers the narrowest active key that covers the token.
    pub(crate) fn specificity(self) -> u8 {
        match self {
            KeyRole::All => 0,
            KeyRole::Vouchers | KeyRole::Members => 1,
            KeyRole::StoreVouchers(_) | KeyRole::CheckIn(_) | KeyRole::Journal(_) => 2,
        }
    }

    /// The role as bytes for key derivation: a tag and the scoped id.
    pub(crate) fn derivation_info(self) -> [u8; 5] {
        let (tag, id) = match self {
            KeyRole::All => (0u8, 0u32),
            KeyRole::Vouchers => (1, 0),
            KeyRole::StoreVouchers(s) => (2, s.0),
            KeyRole::Members => (3, 0),
            KeyRole::CheckIn(s) => (4, s.0),
            KeyRole::Journal(t) => (5, t.0),
        };
        let id = id.to_le_bytes();
        [tag, id[0], id[1], id[2], id[3]]
    }
}

impl std::fmt::Display for KeyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRole::All => f.write_str("all tokens"),
            KeyRole::Vouchers => f.write_str("vouchers"),
            KeyRole::StoreVouchers(s) => write!(f, "vouchers of store {s} only"),
            KeyRole::Members => f.write_str("membership cards and share codes"),
            KeyRole::CheckIn(s) => write!(f, "check-in codes of store {s}"),
            KeyRole::Journal(t) => write!(f, "the journal of till {t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_signs_its_own_kinds_and_scopes_only() {
        let (a, b) = (StoreId(1), StoreId(2));
        let voucher = TokenKind::Voucher;
        assert!(KeyRole::All.permits(TokenKind::CheckIn, Scope::Store(a)));
        assert!(KeyRole::Vouchers.permits(voucher, Scope::VoucherStores(&[])));
        assert!(!KeyRole::Vouchers.permits(TokenKind::CheckIn, Scope::Store(a)));
        let kiosk = KeyRole::StoreVouchers(a);
        assert!(kiosk.permits(voucher, Scope::VoucherStores(&[a])));
        assert!(!kiosk.permits(voucher, Scope::VoucherStores(&[])));
        assert!(!kiosk.permits(voucher, Scope::VoucherStores(&[a, b])));
        assert!(!kiosk.permits(TokenKind::MembershipCard, Scope::Any));
        assert!(KeyRole::CheckIn(a).permits(TokenKind::CheckIn, Scope::Store(a)));
        assert!(!KeyRole::CheckIn(a).permits(TokenKind::CheckIn, Scope::Store(b)));
        assert!(!KeyRole::CheckIn(a).permits(voucher, Scope::VoucherStores(&[a])));
        assert!(KeyRole::Members.permits(TokenKind::Share, Scope::Any));
        assert!(!KeyRole::Members.permits(voucher, Scope::VoucherStores(&[a])));
        for kind in [
            voucher,
            TokenKind::MembershipCard,
            TokenKind::CheckIn,
            TokenKind::Share,
        ] {
            assert!(!KeyRole::Journal(TillId(1)).signs_kind(kind));
        }
    }

    #[test]
    fn roles_read_and_write_as_documented() {
        for (role, json) in [
            (KeyRole::All, r#""all""#),
            (KeyRole::Vouchers, r#""vouchers""#),
            (
                KeyRole::StoreVouchers(StoreId(12)),
                r#"{"store_vouchers":12}"#,
            ),
            (KeyRole::Members, r#""members""#),
            (KeyRole::CheckIn(StoreId(12)), r#"{"check_in":12}"#),
            (KeyRole::Journal(TillId(3)), r#"{"journal":3}"#),
        ] {
            assert_eq!(serde_json::to_string(&role).unwrap(), json);
            assert_eq!(serde_json::from_str::<KeyRole>(json).unwrap(), role);
        }
    }
}
