//! Hierarchical region codes and geographic points.
//!
//! A region code is a string whose prefixes are its enclosing regions, as China's
//! administrative division codes are: `44` Guangdong contains `4403` Shenzhen, which contains
//! `440305` Nanshan. A voucher limited to region `4403` is valid in every store whose code
//! starts with `4403`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a region code or a coordinate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegionError {
    /// Not 1 to [`RegionCode::MAX_LEN`] characters of `0-9`, `A-Z`.
    #[error(
        "invalid region code {0:?}: expected 1 to 16 characters 0-9 or A-Z, most significant first"
    )]
    InvalidCode(String),
    /// Latitude outside ±90° or longitude outside ±180°.
    #[error("invalid coordinates: latitude {lat_e6} µ°, longitude {lon_e6} µ°")]
    InvalidCoordinates {
        /// Latitude in millionths of a degree.
        lat_e6: i32,
        /// Longitude in millionths of a degree.
        lon_e6: i32,
    },
}

/// A hierarchical region code: 1 to 16 characters `0-9` `A-Z`, most significant first
/// (lower-case input is upper-cased).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode(String);

impl RegionCode {
    /// The longest code accepted.
    pub const MAX_LEN: usize = 16;

    /// Parses a code such as `"440305"`.
    ///
    /// # Errors
    /// [`RegionError::InvalidCode`] for an empty or too long code or one with other characters.
    pub fn new(code: &str) -> Result<Self, RegionError> {
        let valid = !code.is_empty()
            && code.len() <= Self::MAX_LEN
            && code.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(RegionError::InvalidCode(crate::error::excerpt(code)));
        }
        Ok(RegionCode(code.to_ascii_uppercase()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` is `other` or one of the regions that enclose it (`44` contains `4403`).
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.0.starts_with(&self.0)
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RegionCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RegionCode::new(&text).map_err(serde::de::Error::custom)
    }
}

/// A point on Earth in millionths of a degree (about 0.1 m of precision).
///
/// Latitude −90,000,000..=90,000,000, longitude −180,000,000..=180,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "GeoPointFields")]
pub struct GeoPoint {
    lat_e6: i32,
    lon_e6: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GeoPointFields {
    lat_e6: i32,
    lon_e6: i32,
}

impl TryFrom<GeoPointFields> for GeoPoint {
    type Error = RegionError;
    fn try_from(fields: GeoPointFields) -> Result<Self, Self::Error> {
        GeoPoint::new(fields.lat_e6, fields.lon_e6)
    }
}

impl GeoPoint {
    /// Mean Earth radius (IUGG), metres.
    const EARTH_RADIUS_M: f64 = 6_371_008.8;

    /// A point from latitude and longitude in millionths of a degree.
    ///
    /// # Errors
    /// [`RegionError::InvalidCoordinates`] outside the documented ranges.
    pub fn new(lat_e6: i32, lon_e6: i32) -> Result<Self, RegionError> {
        if !(-90_000_000..=90_000_000).contains(&lat_e6)
            || !(-180_000_000..=180_000_000).contains(&lon_e6)
        {
            return Err(RegionError::InvalidCoordinates { lat_e6, lon_e6 });
        }
        Ok(GeoPoint { lat_e6, lon_e6 })
    }

    /// A point from latitude and longitude in degrees, rounded to millionths.
    ///
    /// # Errors
    /// [`RegionError::InvalidCoordinates`] outside ±90° / ±180° (or not finite).
    pub fn from_degrees(lat: f64, lon: f64) -> Result<Self, RegionError> {
        let to_e6 = |deg: f64| {
            let scaled = (deg * 1e6).round();
            if scaled.is_finite() && scaled.abs() <= 1e9 {
                scaled as i32
            } else {
                i32::MAX
            }
        };
        Self::new(to_e6(lat), to_e6(lon))
    }

    /// Latitude in millionths of a degree.
    pub fn lat_e6(&self) -> i32 {
        self.lat_e6
    }

    /// Longitude in millionths of a degree.
    pub fn lon_e6(&self) -> i32 {
        self.lon_e6
    }

    /// Great-circle (haversine) distance in metres on a spherical Earth; within 0.5% of the
    /// ellipsoidal distance, which is ample for a geofence.
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        let rad = |e6: i32| f64::from(e6) * 1e-6_f64.to_radians();
        let (lat1, lat2) = (rad(self.lat_e6), rad(other.lat_e6));
        let dlat = lat2 - lat1;
        let dlon = rad(other.lon_e6) - rad(self.lon_e6);
        let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * Self::EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
    }
}

/// A circle on the map: a voucher limited by it is valid only in stores inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geofence {
    /// Centre of the circle.
    pub center: GeoPoint,
    /// Radius in metres.
    pub radius_m: u32,
}

impl Geofence {
    /// Whether `point` lies inside the circle or on its edge.
    pub fn contains(&self, point: &GeoPoint) -> bool {
        self.center.distance_m(point) <= f64::from(self.radius_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_prefixes_nest() {
        let guangdong = RegionCode::new("44").unwrap();
        let shenzhen = RegionCode::new("4403").unwrap();
        let nanshan = RegionCode::new("440305").unwrap();
        let guangzhou = RegionCode::new("4401").unwrap();
        assert!(guangdong.contains(&shenzhen));
        assert!(shenzhen.contains(&nanshan));
        assert!(shenzhen.contains(&shenzhen));
        assert!(!shenzhen.contains(&guangdong));
        assert!(!shenzhen.contains(&guangzhou));
        assert!(!nanshan.contains(&shenzhen));
    }

    #[test]
    fn region_code_is_validated() {
        assert!(RegionCode::new("").is_err());
        assert!(RegionCode::new("44-03").is_err());
        assert!(RegionCode::new(&"1".repeat(17)).is_err());
        assert_eq!(RegionCode::new("cn44").unwrap().as_str(), "CN44");
    }

    #[test]
    fn coordinates_are_validated() {
        assert!(GeoPoint::new(90_000_001, 0).is_err());
        assert!(GeoPoint::new(0, -180_000_001).is_err());
        assert!(GeoPoint::from_degrees(f64::NAN, 0.0).is_err());
        assert!(GeoPoint::from_degrees(22.54, 113.93).is_ok());
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // One degree of latitude along a meridian: πR/180 ≈ 111,195.08 m.
        let a = GeoPoint::new(0, 0).unwrap();
        let b = GeoPoint::new(1_000_000, 0).unwrap();
        assert!((a.distance_m(&b) - 111_195.0).abs() < 1.0);
        let fence = Geofence {
            center: a,
            radius_m: 111_196,
        };
        assert!(fence.contains(&b));
        let fence = Geofence {
            center: a,
            radius_m: 111_195,
        };
        assert!(!fence.contains(&b));
    }
}
