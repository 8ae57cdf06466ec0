//! The MaxMind databases of the network map (MaxMind DB format, read with the `maxminddb`
//! crate): `[LOCALITY] asn_db`, a GeoLite2-ASN or GeoIP2-ISP file (DB-IP's ASN Lite in mmdb
//! format has the same fields), and `[LOCALITY] country_db`, a GeoLite2-Country or -City file
//! (or DB-IP's Country or City Lite).
//!
//! Each file is read whole into memory when opened and checked to be of the kind its key
//! expects (its `database_type` metadata), so that an operator who swaps the two paths learns
//! it at start rather than from a map where every peer is outside. Records are decoded into
//! small borrowed structs holding only the fields used: the ASN look-up on the announce path
//! decodes one integer and allocates nothing.

use super::LocalityError;
use maxminddb::Reader;
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// An autonomous system, as the ASN database gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asn {
    /// The AS number.
    pub number: u32,
    /// The organisation, when the database names one.
    pub organization: Option<String>,
}

impl fmt::Display for Asn {
    /// `AS29518 Bredband2 AB`, or `AS7018` without an organisation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AS{}", self.number)?;
        match &self.organization {
            Some(org) => write!(f, " {org}"),
            None => Ok(()),
        }
    }
}

/// A country, as the country database gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code, `SE`.
    pub iso_code: String,
    /// English name, when the database has one.
    pub name: Option<String>,
}

impl fmt::Display for Country {
    /// `SE Sweden`, or `SE` without a name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso_code)?;
        match &self.name {
            Some(name) => write!(f, " {name}"),
            None => Ok(()),
        }
    }
}

/// The fields of an ASN (or ISP) record the hot path needs.
#[derive(Deserialize)]
struct AsnNumber {
    autonomous_system_number: Option<u32>,
}

/// The fields of an ASN (or ISP) record `locate` shows.
#[derive(Deserialize)]
struct AsnRecord<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

/// The fields of a Country or City record `locate` shows.
#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow)]
    country: Option<CountryPart<'a>>,
}

#[derive(Deserialize)]
struct CountryPart<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

/// `[LOCALITY] asn_db`.
pub(super) struct AsnDb {
    reader: Reader<Vec<u8>>,
}

/// `[LOCALITY] country_db`.
pub(super) struct CountryDb {
    reader: Reader<Vec<u8>>,
}

/// Opens `path` and checks that its database type contains one of `kinds` (any case); `key`
/// and `wanted` name the key and the expected files in errors.
fn open(
    path: &Path,
    key: &'static str,
    kinds: &[&str],
    wanted: &str,
) -> Result<Reader<Vec<u8>>, LocalityError> {
    let fail = |message: String| LocalityError::Database {
        path: path.to_owned(),
        key,
        message,
    };
    let reader = Reader::open_readfile(path).map_err(|e| match e {
        maxminddb::MaxMindDbError::Io(io) => fail(format!("cannot read it: {io}")),
        other => fail(format!("not a MaxMind DB (.mmdb) file: {other}")),
    })?;
    let kind = reader.metadata().database_type.to_ascii_lowercase();
    if !kinds.iter().any(|k| kind.contains(k)) {
        return Err(fail(format!(
            "it is a {} database; expected {wanted}",
            crate::text::printable(&reader.metadata().database_type)
        )));
    }
    Ok(reader)
}

impl AsnDb {
    /// Opens and checks the ASN database at `path`.
    pub(super) fn open(path: &Path) -> Result<AsnDb, LocalityError> {
        let reader = open(
            path,
            "asn_db",
            &["asn", "isp"],
            "an ASN database (GeoLite2-ASN, GeoIP2-ISP or DB-IP ASN Lite)",
        )?;
        Ok(AsnDb { reader })
    }

    /// The AS number of `ip` (canonical); `None` when the database has none, or gives 0 (no
    /// AS). The announce path: decodes one integer and allocates nothing.
    #[inline]
    pub(super) fn number(&self, ip: IpAddr) -> Option<u32> {
        // An IPv6 address in an IPv4-only database is an error: not found, like any failure,
        // so that a damaged record costs its peers their AS, never the announce.
        let record: AsnNumber = self.reader.lookup(ip).ok()?.decode().ok()??;
        record.autonomous_system_number.filter(|&n| n != 0)
    }

    /// The AS of `ip` (canonical) with its organisation.
    pub(super) fn lookup(&self, ip: IpAddr) -> Option<Asn> {
        let result = self.reader.lookup(ip).ok()?;
        let record: AsnRecord<'_> = result.decode().ok()??;
        let number = record.autonomous_system_number.filter(|&n| n != 0)?;
        Some(Asn {
            number,
            organization: record
                .autonomous_system_organization
                .map(crate::text::printable),
        })
    }

    /// The database type from its metadata (`GeoLite2-ASN`).
    pub(super) fn kind(&self) -> &str {
        &self.reader.metadata().database_type
    }
}

impl CountryDb {
    /// Opens and checks the country database at `path`.
    pub(super) fn open(path: &Path) -> Result<CountryDb, LocalityError> {
        let reader = open(
            path,
            "country_db",
            &["country", "city", "enterprise"],
            "a country database (GeoLite2-Country, GeoLite2-City, or DB-IP Country or City Lite)",
        )?;
        Ok(CountryDb { reader })
    }

    /// The country of `ip` (canonical).
    pub(super) fn lookup(&self, ip: IpAddr) -> Option<Country> {
        let result = self.reader.lookup(ip).ok()?;
        let record: CountryRecord<'_> = result.decode().ok()??;
        let country = record.country?;
        Some(Country {
            iso_code: crate::text::printable(country.iso_code?),
            name: country.names.and_then(|n| n.en).map(crate::text::printable),
        })
    }

    /// The database type from its metadata (`GeoLite2-Country`).
    pub(super) fn kind(&self) -> &str {
        &self.reader.metadata().database_type
    }
}
