//! NCPDP D.0 field and segment names (NCPDP Telecommunication Standard D.0) in one data table.
//!
//! Tier 2, inside `ncpdp`: read by the dump (names), by validation (which fields may repeat,
//! field widths) and by nothing else. Pure data with lookup helpers.
//!
//! Must never: hold behaviour beyond lookups, or grow entries that are not in the spec's §6
//! tables (those tables come from the spec's dzero-python field lists with DD07 formats).

/// The wire format of a field (DD07 notation in the comments).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// `x(n)`: up to `n` printable characters.
    Alnum(u16),
    /// `9(n)`: up to `n` digits.
    Digits(u16),
    /// `s9(m)v9..`: signed overpunch, `digits` characters at most, `decimals` implied.
    Signed { digits: u16, decimals: u8 },
    /// `9(m)v9..`: unsigned digits, `digits` characters at most, `decimals` implied.
    Unsigned { digits: u16, decimals: u8 },
}

impl Format {
    /// The widest value the format allows, in bytes.
    pub fn width_max(self) -> usize {
        match self {
            Format::Alnum(width) | Format::Digits(width) => usize::from(width),
            Format::Signed { digits, .. } | Format::Unsigned { digits, .. } => usize::from(digits),
        }
    }
}

/// How a field may repeat inside its segment (spec §8).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rep {
    /// Appears at most once per segment.
    Single,
    /// A count field: appears once, followed by that many repetitions.
    Count,
    /// A count nested in a repetition (once per COB payer or per compound ingredient).
    NestedCount,
    /// A counter field (473-7E, 493-XE, 567-J6): starts every repetition.
    Counter,
    /// Repeats under the named count or counter field.
    Repeats([u8; 2]),
}

impl Rep {
    /// Whether the field may legally occur more than once in one segment.
    pub fn repeatable(self) -> bool {
        !matches!(self, Rep::Single | Rep::Count)
    }
}

/// One field of a segment.
#[derive(Clone, Copy, Debug)]
pub struct FieldInfo {
    /// The 2-character id as on the wire (`D2`).
    pub id: [u8; 2],
    /// The NCPDP field number (`402-D2`).
    pub number: &'static str,
    /// Short paraphrased name.
    pub name: &'static str,
    pub format: Format,
    pub rep: Rep,
}

/// One segment: its 111-AM id and its fields.
#[derive(Clone, Copy, Debug)]
pub struct SegmentInfo {
    /// The 111-AM value (`07`).
    pub id: [u8; 2],
    pub name: &'static str,
    pub fields: &'static [FieldInfo],
}

/// One fixed-width header field.
#[derive(Clone, Copy, Debug)]
pub struct HeaderFieldInfo {
    /// Key in the JSON dump and name of the `Header` member.
    pub key: &'static str,
    /// The NCPDP field number (`101-A1`).
    pub number: &'static str,
    pub name: &'static str,
    pub offset: usize,
    pub width: usize,
}

const fn h(
    key: &'static str,
    number: &'static str,
    name: &'static str,
    offset: usize,
    width: usize,
) -> HeaderFieldInfo {
    HeaderFieldInfo {
        key,
        number,
        name,
        offset,
        width,
    }
}

/// The 56-byte request header (spec §3), in wire order.
pub const REQUEST_HEADER: [HeaderFieldInfo; 9] = [
    h("bin", "101-A1", "BIN number", 0, 6),
    h("version", "102-A2", "version/release number", 6, 2),
    h("transaction_code", "103-A3", "transaction code", 8, 2),
    h("pcn", "104-A4", "processor control number", 10, 10),
    h("transaction_count", "109-A9", "transaction count", 20, 1),
    h(
        "provider_id_qualifier",
        "202-B2",
        "service provider id qualifier",
        21,
        2,
    ),
    h("provider_id", "201-B1", "service provider id", 23, 15),
    h("date_of_service", "401-D1", "date of service", 38, 8),
    h(
        "software_vendor",
        "110-AK",
        "software vendor/certification id",
        46,
        10,
    ),
];

/// The 31-byte response header (spec §4), in wire order.
pub const RESPONSE_HEADER: [HeaderFieldInfo; 7] = [
    h("version", "102-A2", "version/release number", 0, 2),
    h("transaction_code", "103-A3", "transaction code", 2, 2),
    h("transaction_count", "109-A9", "transaction count", 4, 1),
    h("response_status", "501-F1", "header response status", 5, 1),
    h(
        "provider_id_qualifier",
        "202-B2",
        "service provider id qualifier",
        6,
        2,
    ),
    h("provider_id", "201-B1", "service provider id", 8, 15),
    h("date_of_service", "401-D1", "date of service", 23, 8),
];

/// Field ids whose values identify a patient or cardholder (ids, names, date of birth,
/// contact data), in request and response segments alike. `Debug` output redacts them.
pub const PHI_FIELDS: [[u8; 2]; 15] = [
    *b"C2", *b"CY", *b"C4", *b"CA", *b"CB", *b"CC", *b"CD", *b"CM", *b"CN", *b"CP", *b"CQ", *b"HN",
    *b"NU", *b"2A", *b"N5",
];

/// Whether values of this field id are patient data (see [`PHI_FIELDS`]).
pub fn is_phi(id: [u8; 2]) -> bool {
    PHI_FIELDS.contains(&id)
}

/// The segment with this 111-AM id, if the spec knows it.
pub fn segment(id: [u8; 2]) -> Option<&'static SegmentInfo> {
    SEGMENTS.iter().find(|info| info.id == id)
}

/// The field `field` of segment `segment`, if the spec lists it there.
pub fn field(segment_id: [u8; 2], field_id: [u8; 2]) -> Option<&'static FieldInfo> {
    segment(segment_id)?
        .fields
        .iter()
        .find(|info| info.id == field_id)
}

const fn f(
    id: [u8; 2],
    number: &'static str,
    name: &'static str,
    format: Format,
    rep: Rep,
) -> FieldInfo {
    FieldInfo {
        id,
        number,
        name,
        format,
        rep,
    }
}

/// Every segment of spec §6 with its fields (request 01..16, response 20..29).
#[rustfmt::skip]
pub static SEGMENTS: &[SegmentInfo] = &[
    SegmentInfo {
        id: *b"01",
        name: "Patient",
        fields: &[
            f(*b"CX", "331-CX", "patient id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"CY", "332-CY", "patient id", Format::Alnum(20), Rep::Single),
            f(*b"C4", "304-C4", "date of birth", Format::Digits(8), Rep::Single),
            f(*b"C5", "305-C5", "patient gender code", Format::Digits(1), Rep::Single),
            f(*b"CA", "310-CA", "patient first name", Format::Alnum(12), Rep::Single),
            f(*b"CB", "311-CB", "patient last name", Format::Alnum(15), Rep::Single),
            f(*b"CM", "322-CM", "patient street address", Format::Alnum(30), Rep::Single),
            f(*b"CN", "323-CN", "patient city", Format::Alnum(20), Rep::Single),
            f(*b"CO", "324-CO", "patient state or province", Format::Alnum(2), Rep::Single),
            f(*b"CP", "325-CP", "patient zip postal code", Format::Alnum(15), Rep::Single),
            f(*b"CQ", "326-CQ", "patient phone number", Format::Digits(10), Rep::Single),
            f(*b"C7", "307-C7", "place of service", Format::Digits(2), Rep::Single),
            f(*b"CZ", "333-CZ", "employer id", Format::Alnum(15), Rep::Single),
            f(*b"1C", "334-1C", "smoker non smoker code", Format::Alnum(1), Rep::Single),
            f(*b"2C", "335-2C", "pregnancy indicator", Format::Alnum(1), Rep::Single),
            f(*b"HN", "350-HN", "patient email address", Format::Alnum(80), Rep::Single),
            f(*b"4X", "384-4X", "patient residence", Format::Digits(2), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"02",
        name: "Pharmacy Provider",
        fields: &[
            f(*b"EY", "465-EY", "provider id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"E9", "444-E9", "provider id", Format::Alnum(15), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"03",
        name: "Prescriber",
        fields: &[
            f(*b"EZ", "466-EZ", "prescriber id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"DB", "411-DB", "prescriber id", Format::Alnum(15), Rep::Single),
            f(*b"DR", "427-DR", "prescriber last name", Format::Alnum(15), Rep::Single),
            f(*b"PM", "498-PM", "prescriber phone number", Format::Digits(10), Rep::Single),
            f(*b"2E", "468-2E", "primary care provider id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"DL", "421-DL", "primary care provider id", Format::Alnum(15), Rep::Single),
            f(*b"4E", "470-4E", "primary care provider last name", Format::Alnum(15), Rep::Single),
            f(*b"2J", "364-2J", "prescriber first name", Format::Alnum(12), Rep::Single),
            f(*b"2K", "365-2K", "prescriber street address", Format::Alnum(30), Rep::Single),
            f(*b"2M", "366-2M", "prescriber city address", Format::Alnum(20), Rep::Single),
            f(*b"2N", "367-2N", "prescriber state province address", Format::Alnum(2), Rep::Single),
            f(*b"2P", "368-2P", "prescriber zip postal zone", Format::Alnum(15), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"04",
        name: "Insurance",
        fields: &[
            f(*b"C2", "302-C2", "cardholder id", Format::Alnum(20), Rep::Single),
            f(*b"CC", "312-CC", "cardholder first name", Format::Alnum(12), Rep::Single),
            f(*b"CD", "313-CD", "cardholder last name", Format::Alnum(15), Rep::Single),
            f(*b"CE", "314-CE", "home plan", Format::Alnum(3), Rep::Single),
            f(*b"FO", "524-FO", "plan id", Format::Alnum(8), Rep::Single),
            f(*b"C9", "309-C9", "eligibility clarification code", Format::Digits(1), Rep::Single),
            f(*b"C1", "301-C1", "group id", Format::Alnum(15), Rep::Single),
            f(*b"C3", "303-C3", "person code", Format::Alnum(3), Rep::Single),
            f(*b"C6", "306-C6", "patient relationship code", Format::Digits(1), Rep::Single),
            f(*b"MG", "990-MG", "other payer bin number", Format::Digits(6), Rep::Single),
            f(*b"MH", "991-MH", "other payer processor control number", Format::Alnum(10), Rep::Single),
            f(*b"NU", "356-NU", "other payer cardholder id", Format::Alnum(20), Rep::Single),
            f(*b"MJ", "992-MJ", "other payer group id", Format::Alnum(15), Rep::Single),
            f(*b"2A", "359-2A", "medigap id", Format::Alnum(20), Rep::Single),
            f(*b"2B", "360-2B", "medicaid indicator", Format::Alnum(2), Rep::Single),
            f(*b"2D", "361-2D", "provider accept assignment indicator", Format::Alnum(1), Rep::Single),
            f(*b"G2", "997-G2", "cms part d defined qualified facility", Format::Alnum(1), Rep::Single),
            f(*b"N5", "115-N5", "medicaid id number", Format::Alnum(20), Rep::Single),
            f(*b"N6", "116-N6", "medicaid agency number", Format::Alnum(15), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"05",
        name: "Coordination of Benefits/Other Payments",
        fields: &[
            f(*b"4C", "337-4C", "coordination of benefits other payments count", Format::Digits(1), Rep::Count),
            f(*b"5C", "338-5C", "other payer coverage type", Format::Alnum(2), Rep::Repeats(*b"4C")),
            f(*b"6C", "339-6C", "other payer id qualifier", Format::Alnum(2), Rep::Repeats(*b"4C")),
            f(*b"7C", "340-7C", "other payer id", Format::Alnum(10), Rep::Repeats(*b"4C")),
            f(*b"E8", "443-E8", "other payer date", Format::Digits(8), Rep::Repeats(*b"4C")),
            f(*b"A7", "993-A7", "internal control number", Format::Alnum(30), Rep::Repeats(*b"4C")),
            f(*b"HB", "341-HB", "other payer amount paid count", Format::Digits(1), Rep::NestedCount),
            f(*b"HC", "342-HC", "other payer amount paid qualifier", Format::Alnum(2), Rep::Repeats(*b"HB")),
            f(*b"DV", "431-DV", "other payer amount paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"HB")),
            f(*b"5E", "471-5E", "other payer reject count", Format::Digits(2), Rep::NestedCount),
            f(*b"6E", "472-6E", "other payer reject code", Format::Alnum(3), Rep::Repeats(*b"5E")),
            f(*b"NR", "353-NR", "other payer patient responsibility amount count", Format::Digits(2), Rep::NestedCount),
            f(*b"NP", "351-NP", "other payer patient responsibility amount qualifier", Format::Alnum(2), Rep::Repeats(*b"NR")),
            f(*b"NQ", "352-NQ", "other payer patient responsibility amount", Format::Signed { digits: 10, decimals: 2 }, Rep::Repeats(*b"NR")),
            f(*b"MU", "392-MU", "benefit stage count", Format::Digits(1), Rep::NestedCount),
            f(*b"MV", "393-MV", "benefit stage qualifier", Format::Alnum(2), Rep::Repeats(*b"MU")),
            f(*b"MW", "394-MW", "benefit stage amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"MU")),
        ],
    },
    SegmentInfo {
        id: *b"06",
        name: "Workers' Compensation",
        fields: &[
            f(*b"DY", "434-DY", "date of injury", Format::Digits(8), Rep::Single),
            f(*b"CF", "315-CF", "employer name", Format::Alnum(30), Rep::Single),
            f(*b"CG", "316-CG", "employer street address", Format::Alnum(30), Rep::Single),
            f(*b"CH", "317-CH", "employer city address", Format::Alnum(20), Rep::Single),
            f(*b"CI", "318-CI", "employer state province address", Format::Alnum(2), Rep::Single),
            f(*b"CJ", "319-CJ", "employer zip postal code", Format::Alnum(15), Rep::Single),
            f(*b"CK", "320-CK", "employer phone number", Format::Digits(10), Rep::Single),
            f(*b"CL", "321-CL", "employer contact name", Format::Alnum(30), Rep::Single),
            f(*b"CR", "327-CR", "carrier id", Format::Alnum(10), Rep::Single),
            f(*b"DZ", "435-DZ", "claim reference id", Format::Alnum(30), Rep::Single),
            f(*b"TR", "117-TR", "billing entity type indicator", Format::Digits(2), Rep::Single),
            f(*b"TS", "118-TS", "pay to qualifier", Format::Alnum(2), Rep::Single),
            f(*b"TT", "119-TT", "pay to id", Format::Alnum(15), Rep::Single),
            f(*b"TU", "120-TU", "pay to name", Format::Alnum(20), Rep::Single),
            f(*b"TV", "121-TV", "pay to street address", Format::Alnum(30), Rep::Single),
            f(*b"TW", "122-TW", "pay to city address", Format::Alnum(20), Rep::Single),
            f(*b"TX", "123-TX", "pay to state province address", Format::Alnum(2), Rep::Single),
            f(*b"TY", "124-TY", "pay to zip postal zone", Format::Alnum(15), Rep::Single),
            f(*b"TZ", "125-TZ", "generic equivalent product id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"UA", "126-UA", "generic equivalent product id", Format::Alnum(19), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"07",
        name: "Claim",
        fields: &[
            f(*b"EM", "455-EM", "prescription reference number qualifier", Format::Alnum(1), Rep::Single),
            f(*b"D2", "402-D2", "prescription reference number", Format::Digits(12), Rep::Single),
            f(*b"E1", "436-E1", "product service id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"D7", "407-D7", "product service id", Format::Alnum(19), Rep::Single),
            f(*b"EN", "456-EN", "associated prescription reference number", Format::Digits(12), Rep::Single),
            f(*b"EP", "457-EP", "associated prescription date", Format::Digits(8), Rep::Single),
            f(*b"SE", "458-SE", "procedure modifier code count", Format::Digits(2), Rep::Count),
            f(*b"ER", "459-ER", "procedure modifier code", Format::Alnum(2), Rep::Repeats(*b"SE")),
            f(*b"E7", "442-E7", "quantity dispensed", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Single),
            f(*b"D3", "403-D3", "fill number", Format::Digits(2), Rep::Single),
            f(*b"D5", "405-D5", "days supply", Format::Digits(3), Rep::Single),
            f(*b"D6", "406-D6", "compound code", Format::Digits(1), Rep::Single),
            f(*b"D8", "408-D8", "dispense as written product selection code", Format::Alnum(1), Rep::Single),
            f(*b"DE", "414-DE", "date prescription written", Format::Digits(8), Rep::Single),
            f(*b"DF", "415-DF", "number of refills authorized", Format::Digits(2), Rep::Single),
            f(*b"DJ", "419-DJ", "prescription origin code", Format::Digits(1), Rep::Single),
            f(*b"NX", "354-NX", "submission clarification code count", Format::Digits(1), Rep::Count),
            f(*b"DK", "420-DK", "submission clarification code", Format::Digits(2), Rep::Repeats(*b"NX")),
            f(*b"ET", "460-ET", "quantity prescribed", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Single),
            f(*b"C8", "308-C8", "other coverage code", Format::Digits(2), Rep::Single),
            f(*b"DT", "429-DT", "special packaging indicator", Format::Digits(1), Rep::Single),
            f(*b"EJ", "453-EJ", "originally prescribed id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"EA", "445-EA", "originally prescribed code", Format::Alnum(19), Rep::Single),
            f(*b"EB", "446-EB", "originally prescribed quantity", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Single),
            f(*b"CW", "330-CW", "alternate id", Format::Alnum(20), Rep::Single),
            f(*b"EK", "454-EK", "scheduled prescription id number", Format::Alnum(12), Rep::Single),
            f(*b"28", "600-28", "unit of measure", Format::Alnum(2), Rep::Single),
            f(*b"DI", "418-DI", "level of service", Format::Digits(2), Rep::Single),
            f(*b"EU", "461-EU", "prior authorization type code", Format::Digits(2), Rep::Single),
            f(*b"EV", "462-EV", "prior authorization number submitted", Format::Digits(11), Rep::Single),
            f(*b"EW", "463-EW", "intermediary authorization type id", Format::Digits(2), Rep::Single),
            f(*b"EX", "464-EX", "intermediary authorization id", Format::Alnum(11), Rep::Single),
            f(*b"HD", "343-HD", "dispensing status", Format::Alnum(1), Rep::Single),
            f(*b"HF", "344-HF", "quantity intended to be dispensed", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Single),
            f(*b"HG", "345-HG", "days supply intended to be dispensed", Format::Digits(3), Rep::Single),
            f(*b"NV", "357-NV", "delay reason code", Format::Digits(2), Rep::Single),
            f(*b"K5", "880-K5", "transaction reference number", Format::Alnum(10), Rep::Single),
            f(*b"MT", "391-MT", "patient assignment indicator", Format::Alnum(1), Rep::Single),
            f(*b"E2", "995-E2", "route of administration", Format::Alnum(11), Rep::Single),
            f(*b"G1", "996-G1", "compound type", Format::Alnum(2), Rep::Single),
            f(*b"N4", "114-N4", "medicaid subrogation ICN/TCN", Format::Alnum(20), Rep::Single),
            f(*b"U7", "147-U7", "pharmacy service type", Format::Digits(2), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"08",
        name: "DUR/PPS",
        fields: &[
            f(*b"7E", "473-7E", "dur pps code counter", Format::Digits(1), Rep::Counter),
            f(*b"E4", "439-E4", "reason for service code", Format::Alnum(2), Rep::Repeats(*b"7E")),
            f(*b"E5", "440-E5", "professional service code", Format::Alnum(2), Rep::Repeats(*b"7E")),
            f(*b"E6", "441-E6", "result of service code", Format::Alnum(2), Rep::Repeats(*b"7E")),
            f(*b"8E", "474-8E", "dur pps level of effort", Format::Digits(2), Rep::Repeats(*b"7E")),
            f(*b"J9", "475-J9", "dur co agent id qualifier", Format::Alnum(2), Rep::Repeats(*b"7E")),
            f(*b"H6", "476-H6", "dur co agent id", Format::Alnum(19), Rep::Repeats(*b"7E")),
        ],
    },
    SegmentInfo {
        id: *b"09",
        name: "Coupon",
        fields: &[
            f(*b"KE", "485-KE", "coupon type", Format::Alnum(2), Rep::Single),
            f(*b"ME", "486-ME", "coupon number", Format::Alnum(15), Rep::Single),
            f(*b"NE", "487-NE", "coupon value amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"10",
        name: "Compound",
        fields: &[
            f(*b"EF", "450-EF", "compound dosage form description code", Format::Alnum(2), Rep::Single),
            f(*b"EG", "451-EG", "compound dispensing unit form indicator", Format::Digits(1), Rep::Single),
            f(*b"EC", "447-EC", "compound ingredient component count", Format::Digits(2), Rep::Count),
            f(*b"RE", "488-RE", "compound product id qualifier", Format::Alnum(2), Rep::Repeats(*b"EC")),
            f(*b"TE", "489-TE", "compound product id", Format::Alnum(19), Rep::Repeats(*b"EC")),
            f(*b"ED", "448-ED", "compound ingredient quantity", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Repeats(*b"EC")),
            f(*b"EE", "449-EE", "compound ingredient drug cost", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"EC")),
            f(*b"UE", "490-UE", "compound ingredient basis of cost determination", Format::Alnum(2), Rep::Repeats(*b"EC")),
            f(*b"2G", "362-2G", "compound ingredient modifier code count", Format::Digits(2), Rep::NestedCount),
            f(*b"2H", "363-2H", "compound ingredient modifier code", Format::Alnum(2), Rep::Repeats(*b"2G")),
        ],
    },
    SegmentInfo {
        id: *b"11",
        name: "Pricing",
        fields: &[
            f(*b"D9", "409-D9", "ingredient cost submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"DC", "412-DC", "dispensing fee submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"BE", "477-BE", "professional service fee submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"DX", "433-DX", "patient paid amount submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"E3", "438-E3", "incentive amount submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"H7", "478-H7", "other amount claimed submitted count", Format::Digits(1), Rep::Count),
            f(*b"H8", "479-H8", "other amount claimed submitted qualifier", Format::Alnum(2), Rep::Repeats(*b"H7")),
            f(*b"H9", "480-H9", "other amount claimed submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"H7")),
            f(*b"HA", "481-HA", "flat sales tax amount submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"GE", "482-GE", "percentage sales tax amount submitted", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"HE", "483-HE", "percentage sales tax rate submitted", Format::Signed { digits: 7, decimals: 4 }, Rep::Single),
            f(*b"JE", "484-JE", "percentage sales tax basis submitted", Format::Alnum(2), Rep::Single),
            f(*b"DQ", "426-DQ", "usual and customary charge", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"DU", "430-DU", "gross amount due", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"DN", "423-DN", "basis of cost determination", Format::Alnum(2), Rep::Single),
            f(*b"N3", "113-N3", "medicaid paid amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"12",
        name: "Prior Authorization",
        fields: &[
            f(*b"PA", "498-PA", "request type", Format::Alnum(1), Rep::Single),
            f(*b"PB", "498-PB", "request period date begin", Format::Digits(8), Rep::Single),
            f(*b"PC", "498-PC", "request period date end", Format::Digits(8), Rep::Single),
            f(*b"PD", "498-PD", "basis of request", Format::Alnum(2), Rep::Single),
            f(*b"PE", "498-PE", "authorized representative first name", Format::Alnum(12), Rep::Single),
            f(*b"PF", "498-PF", "authorized rep last name", Format::Alnum(15), Rep::Single),
            f(*b"PG", "498-PG", "authorized rep street address", Format::Alnum(30), Rep::Single),
            f(*b"PH", "498-PH", "authorized rep city", Format::Alnum(20), Rep::Single),
            f(*b"PJ", "498-PJ", "authorized rep state province", Format::Alnum(2), Rep::Single),
            f(*b"PK", "498-PK", "authorized rep zip postal code", Format::Alnum(15), Rep::Single),
            f(*b"PY", "498-PY", "prior authorization number assigned", Format::Digits(11), Rep::Single),
            f(*b"F3", "503-F3", "authorization number", Format::Alnum(20), Rep::Single),
            f(*b"PP", "498-PP", "prior authorization supporting documentation", Format::Alnum(1), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"13",
        name: "Clinical",
        fields: &[
            f(*b"VE", "491-VE", "diagnosis code count", Format::Digits(1), Rep::Count),
            f(*b"WE", "492-WE", "diagnosis code qualifier", Format::Alnum(2), Rep::Repeats(*b"VE")),
            f(*b"DO", "424-DO", "diagnosis code", Format::Alnum(15), Rep::Repeats(*b"VE")),
            f(*b"XE", "493-XE", "clinical information counter", Format::Digits(1), Rep::Counter),
            f(*b"ZE", "494-ZE", "measurement date", Format::Digits(8), Rep::Repeats(*b"XE")),
            f(*b"H1", "495-H1", "measurement time", Format::Digits(4), Rep::Repeats(*b"XE")),
            f(*b"H2", "496-H2", "measurement dimension", Format::Alnum(2), Rep::Repeats(*b"XE")),
            f(*b"H3", "497-H3", "measurement unit", Format::Alnum(2), Rep::Repeats(*b"XE")),
            f(*b"H4", "499-H4", "measurement value", Format::Alnum(15), Rep::Repeats(*b"XE")),
        ],
    },
    SegmentInfo {
        id: *b"14",
        name: "Additional Documentation",
        fields: &[
            f(*b"2Q", "369-2Q", "additional documentation type id", Format::Alnum(3), Rep::Single),
            f(*b"2V", "374-2V", "request period begin date", Format::Digits(8), Rep::Single),
            f(*b"2W", "375-2W", "request period recert revised date", Format::Digits(8), Rep::Single),
            f(*b"2U", "373-2U", "request status", Format::Alnum(1), Rep::Single),
            f(*b"2S", "371-2S", "length of need qualifier", Format::Digits(2), Rep::Single),
            f(*b"2R", "370-2R", "length of need", Format::Digits(3), Rep::Single),
            f(*b"2T", "372-2T", "prescriber supplier date signed", Format::Digits(8), Rep::Single),
            f(*b"2X", "376-2X", "supporting documentation", Format::Alnum(65), Rep::Single),
            f(*b"2Z", "377-2Z", "question number letter count", Format::Digits(2), Rep::Count),
            f(*b"4B", "378-4B", "question number letter", Format::Alnum(3), Rep::Repeats(*b"2Z")),
            f(*b"4D", "379-4D", "question percent response", Format::Unsigned { digits: 5, decimals: 2 }, Rep::Repeats(*b"2Z")),
            f(*b"4G", "380-4G", "question date response", Format::Digits(8), Rep::Repeats(*b"2Z")),
            f(*b"4H", "381-4H", "question dollar amount response", Format::Signed { digits: 11, decimals: 2 }, Rep::Repeats(*b"2Z")),
            f(*b"4J", "382-4J", "question numeric response", Format::Digits(11), Rep::Repeats(*b"2Z")),
            f(*b"4K", "383-4K", "question alphanumeric response", Format::Alnum(30), Rep::Repeats(*b"2Z")),
        ],
    },
    SegmentInfo {
        id: *b"15",
        name: "Facility",
        fields: &[
            f(*b"8C", "336-8C", "facility id", Format::Alnum(10), Rep::Single),
            f(*b"3Q", "385-3Q", "facility name", Format::Alnum(30), Rep::Single),
            f(*b"3U", "386-3U", "facility street address", Format::Alnum(30), Rep::Single),
            f(*b"5J", "388-5J", "facility city address", Format::Alnum(20), Rep::Single),
            f(*b"3V", "387-3V", "facility state province address", Format::Alnum(2), Rep::Single),
            f(*b"6D", "389-6D", "facility zip postal zone", Format::Alnum(15), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"16",
        name: "Narrative",
        fields: &[
            f(*b"BM", "390-BM", "narrative message", Format::Alnum(200), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"20",
        name: "Response Message",
        fields: &[
            f(*b"F4", "504-F4", "message", Format::Alnum(200), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"21",
        name: "Response Status",
        fields: &[
            f(*b"AN", "112-AN", "response status", Format::Alnum(1), Rep::Single),
            f(*b"F3", "503-F3", "authorization number", Format::Alnum(20), Rep::Single),
            f(*b"FA", "510-FA", "reject count", Format::Digits(2), Rep::Count),
            f(*b"FB", "511-FB", "reject code", Format::Alnum(3), Rep::Repeats(*b"FA")),
            f(*b"4F", "546-4F", "reject field occurrence indicator", Format::Digits(2), Rep::Repeats(*b"FA")),
            f(*b"5F", "547-5F", "approved message code count", Format::Digits(1), Rep::Count),
            f(*b"6F", "548-6F", "approved message code", Format::Alnum(3), Rep::Repeats(*b"5F")),
            f(*b"UF", "130-UF", "additional message information count", Format::Digits(2), Rep::Count),
            f(*b"UH", "132-UH", "additional message information qualifier", Format::Alnum(2), Rep::Repeats(*b"UF")),
            f(*b"FQ", "526-FQ", "additional message information", Format::Alnum(40), Rep::Repeats(*b"UF")),
            f(*b"UG", "131-UG", "additional message information continuity", Format::Alnum(1), Rep::Repeats(*b"UF")),
            f(*b"7F", "549-7F", "help desk phone number qualifier", Format::Alnum(2), Rep::Single),
            f(*b"8F", "550-8F", "help desk phone number", Format::Alnum(18), Rep::Single),
            f(*b"K5", "880-K5", "transaction reference number", Format::Alnum(10), Rep::Single),
            f(*b"A7", "993-A7", "internal control number", Format::Alnum(30), Rep::Single),
            f(*b"MA", "987-MA", "url", Format::Alnum(255), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"22",
        name: "Response Claim",
        fields: &[
            f(*b"EM", "455-EM", "prescription reference number qualifier", Format::Alnum(1), Rep::Single),
            f(*b"D2", "402-D2", "prescription reference number", Format::Digits(12), Rep::Single),
            f(*b"9F", "551-9F", "preferred product count", Format::Digits(1), Rep::Count),
            f(*b"AP", "552-AP", "preferred product id qualifier", Format::Alnum(2), Rep::Repeats(*b"9F")),
            f(*b"AR", "553-AR", "preferred product id", Format::Alnum(19), Rep::Repeats(*b"9F")),
            f(*b"AS", "554-AS", "preferred product incentive", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"9F")),
            f(*b"AT", "555-AT", "preferred product cost share incentive", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"9F")),
            f(*b"AU", "556-AU", "preferred product description", Format::Alnum(40), Rep::Repeats(*b"9F")),
            f(*b"N4", "114-N4", "medicaid subrogation ICN/TCN", Format::Alnum(20), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"23",
        name: "Response Pricing",
        fields: &[
            f(*b"F5", "505-F5", "patient pay amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"F6", "506-F6", "ingredient cost paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"F7", "507-F7", "dispensing fee paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"AV", "557-AV", "tax exempt indicator", Format::Alnum(1), Rep::Single),
            f(*b"AW", "558-AW", "flat sales tax amount paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"AX", "559-AX", "percentage sales tax amount paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"AY", "560-AY", "percentage sales tax rate paid", Format::Signed { digits: 7, decimals: 4 }, Rep::Single),
            f(*b"AZ", "561-AZ", "percentage sales tax basis paid", Format::Alnum(2), Rep::Single),
            f(*b"FL", "521-FL", "incentive amount paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"J1", "562-J1", "professional service fee paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"J2", "563-J2", "other amount paid count", Format::Digits(1), Rep::Count),
            f(*b"J3", "564-J3", "other amount paid qualifier", Format::Alnum(2), Rep::Repeats(*b"J2")),
            f(*b"J4", "565-J4", "other amount paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"J2")),
            f(*b"J5", "566-J5", "other payer amount recognized", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"F9", "509-F9", "total amount paid", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"FM", "522-FM", "basis of reimbursement determination", Format::Digits(2), Rep::Single),
            f(*b"FN", "523-FN", "amount attributed to sales tax", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"FC", "512-FC", "accumulated deductible amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"FD", "513-FD", "remaining deductible amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"FE", "514-FE", "remaining benefit amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"FH", "517-FH", "amount applied to periodic deductible", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"FI", "518-FI", "amount of copay", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"FK", "520-FK", "amount exceeding periodic benefit maximum", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"HH", "346-HH", "basis of calculation dispensing fee", Format::Alnum(2), Rep::Single),
            f(*b"HJ", "347-HJ", "basis of calculation copay", Format::Alnum(2), Rep::Single),
            f(*b"HK", "348-HK", "basis of calculation flat sales tax", Format::Alnum(2), Rep::Single),
            f(*b"HM", "349-HM", "basis of calculation percentage sales tax", Format::Alnum(2), Rep::Single),
            f(*b"NZ", "571-NZ", "amount attributed to processor fee", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"EQ", "575-EQ", "patient sales tax amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"2Y", "574-2Y", "plan sales tax amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"4U", "572-4U", "amount of coinsurance", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"4V", "573-4V", "basis of calculation coinsurance", Format::Alnum(2), Rep::Single),
            f(*b"MU", "392-MU", "benefit stage count", Format::Digits(1), Rep::Count),
            f(*b"MV", "393-MV", "benefit stage qualifier", Format::Alnum(2), Rep::Repeats(*b"MU")),
            f(*b"MW", "394-MW", "benefit stage amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Repeats(*b"MU")),
            f(*b"G3", "577-G3", "estimated generic savings", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"UC", "128-UC", "spending account amount remaining", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"UD", "129-UD", "health plan funded assistance amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"UJ", "133-UJ", "amount attributed to provider network selection", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"UK", "134-UK", "amount attributed to product selection brand drug", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"UM", "135-UM", "amount attributed to product selection non preferred formulary selection", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"UN", "136-UN", "amount attributed to product selection brand non preferred formulary selection", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"UP", "137-UP", "amount attributed to coverage gap", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"U8", "148-U8", "ingredient cost contracted reimbursable amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"U9", "149-U9", "dispensing fee contracted reimbursable amount", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"24",
        name: "Response DUR/PPS",
        fields: &[
            f(*b"J6", "567-J6", "dur pps response code counter", Format::Digits(1), Rep::Counter),
            f(*b"E4", "439-E4", "reason for service code", Format::Alnum(2), Rep::Repeats(*b"J6")),
            f(*b"FS", "528-FS", "clinical significance code", Format::Alnum(1), Rep::Repeats(*b"J6")),
            f(*b"FT", "529-FT", "other pharmacy indicator", Format::Digits(1), Rep::Repeats(*b"J6")),
            f(*b"FV", "531-FV", "quantity of previous fill", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Repeats(*b"J6")),
            f(*b"FU", "530-FU", "previous date of fill", Format::Digits(8), Rep::Repeats(*b"J6")),
            f(*b"FW", "532-FW", "database indicator", Format::Alnum(1), Rep::Repeats(*b"J6")),
            f(*b"FX", "533-FX", "other prescriber indicator", Format::Digits(1), Rep::Repeats(*b"J6")),
            f(*b"FY", "544-FY", "dur free text message", Format::Alnum(30), Rep::Repeats(*b"J6")),
            f(*b"NS", "570-NS", "dur additional text", Format::Alnum(100), Rep::Repeats(*b"J6")),
        ],
    },
    SegmentInfo {
        id: *b"25",
        name: "Response Insurance",
        fields: &[
            f(*b"C1", "301-C1", "group id", Format::Alnum(15), Rep::Single),
            f(*b"FO", "524-FO", "plan id", Format::Alnum(8), Rep::Single),
            f(*b"2F", "545-2F", "network reimbursement id", Format::Alnum(10), Rep::Single),
            f(*b"J7", "568-J7", "payer id qualifier", Format::Alnum(2), Rep::Single),
            f(*b"J8", "569-J8", "payer id", Format::Alnum(10), Rep::Single),
            f(*b"N5", "115-N5", "medicaid id number", Format::Alnum(20), Rep::Single),
            f(*b"N6", "116-N6", "medicaid agency number", Format::Alnum(15), Rep::Single),
            f(*b"C2", "302-C2", "cardholder id", Format::Alnum(20), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"26",
        name: "Response Prior Authorization",
        fields: &[
            f(*b"PR", "498-PR", "prior authorization processed date", Format::Digits(8), Rep::Single),
            f(*b"PS", "498-PS", "prior authorization effective date", Format::Digits(8), Rep::Single),
            f(*b"PT", "498-PT", "prior authorization expiration date", Format::Digits(8), Rep::Single),
            f(*b"RA", "498-RA", "prior authorization quantity", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Single),
            f(*b"RB", "498-RB", "prior authorization dollars authorized", Format::Signed { digits: 8, decimals: 2 }, Rep::Single),
            f(*b"PW", "498-PW", "prior authorization number of refills authorized", Format::Digits(2), Rep::Single),
            f(*b"PX", "498-PX", "prior authorization quantity accumulated", Format::Unsigned { digits: 10, decimals: 3 }, Rep::Single),
            f(*b"PY", "498-PY", "prior authorization number assigned", Format::Digits(11), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"27",
        name: "Response Insurance Additional Information",
        fields: &[
            f(*b"UR", "139-UR", "medicare part d coverage code", Format::Digits(2), Rep::Single),
            f(*b"UQ", "138-UQ", "cms low income cost sharing lics level", Format::Alnum(20), Rep::Single),
            f(*b"U1", "240-U1", "contract number", Format::Alnum(8), Rep::Single),
            f(*b"FF", "926-FF", "formulary id", Format::Alnum(10), Rep::Single),
            f(*b"U6", "757-U6", "benefit id", Format::Alnum(15), Rep::Single),
            f(*b"US", "140-US", "next medicare part d effective date", Format::Digits(8), Rep::Single),
            f(*b"UT", "141-UT", "next medicare part d termination date", Format::Digits(8), Rep::Single),
        ],
    },
    SegmentInfo {
        id: *b"28",
        name: "Response Coordination of Benefits/Other Payers",
        fields: &[
            f(*b"NT", "355-NT", "other payer id count", Format::Digits(1), Rep::Count),
            f(*b"5C", "338-5C", "other payer coverage type", Format::Alnum(2), Rep::Repeats(*b"NT")),
            f(*b"6C", "339-6C", "other payer id qualifier", Format::Alnum(2), Rep::Repeats(*b"NT")),
            f(*b"7C", "340-7C", "other payer id", Format::Alnum(10), Rep::Repeats(*b"NT")),
            f(*b"MH", "991-MH", "other payer processor control number", Format::Alnum(10), Rep::Repeats(*b"NT")),
            f(*b"NU", "356-NU", "other payer cardholder id", Format::Alnum(20), Rep::Repeats(*b"NT")),
            f(*b"MJ", "992-MJ", "other payer group id", Format::Alnum(15), Rep::Repeats(*b"NT")),
            f(*b"UV", "142-UV", "other payer person code", Format::Alnum(3), Rep::Repeats(*b"NT")),
            f(*b"UB", "127-UB", "other payer help desk phone number", Format::Alnum(18), Rep::Repeats(*b"NT")),
            f(*b"UW", "143-UW", "other payer patient relationship code", Format::Digits(1), Rep::Repeats(*b"NT")),
            f(*b"UX", "144-UX", "other payer benefit effective date", Format::Digits(8), Rep::Repeats(*b"NT")),
            f(*b"UY", "145-UY", "other payer benefit termination date", Format::Digits(8), Rep::Repeats(*b"NT")),
        ],
    },
    SegmentInfo {
        id: *b"29",
        name: "Response Patient",
        fields: &[
            f(*b"CA", "310-CA", "patient first name", Format::Alnum(12), Rep::Single),
            f(*b"CB", "311-CB", "patient last name", Format::Alnum(15), Rep::Single),
            f(*b"C4", "304-C4", "date of birth", Format::Digits(8), Rep::Single),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_fields_tile_56_bytes() {
        let mut next_offset = 0;
        for info in REQUEST_HEADER {
            assert_eq!(info.offset, next_offset, "{}", info.key);
            next_offset += info.width;
        }
        assert_eq!(next_offset, crate::limits::REQUEST_HEADER_BYTES);
    }

    #[test]
    fn response_header_fields_tile_31_bytes() {
        let mut next_offset = 0;
        for info in RESPONSE_HEADER {
            assert_eq!(info.offset, next_offset, "{}", info.key);
            next_offset += info.width;
        }
        assert_eq!(next_offset, crate::limits::RESPONSE_HEADER_BYTES);
    }

    #[test]
    fn segment_and_field_ids_are_unique() {
        for (index, info) in SEGMENTS.iter().enumerate() {
            assert!(SEGMENTS[..index].iter().all(|other| other.id != info.id));
            for (field_index, field_info) in info.fields.iter().enumerate() {
                let earlier = &info.fields[..field_index];
                assert!(
                    earlier.iter().all(|other| other.id != field_info.id),
                    "{:?}",
                    field_info
                );
            }
        }
    }

    #[test]
    fn lookups_find_claim_fields_and_their_formats() {
        let rx_number = field(*b"07", *b"D2").map(|info| (info.number, info.format));
        assert_eq!(rx_number, Some(("402-D2", Format::Digits(12))));
        let quantity = field(*b"07", *b"E7").map(|info| info.format);
        assert_eq!(
            quantity,
            Some(Format::Unsigned {
                digits: 10,
                decimals: 3
            })
        );
        assert_eq!(
            field(*b"08", *b"E4").map(|info| info.rep),
            Some(Rep::Repeats(*b"7E"))
        );
        assert_eq!(
            segment(*b"29").map(|info| info.name),
            Some("Response Patient")
        );
        assert!(segment(*b"17").is_none());
    }
}
