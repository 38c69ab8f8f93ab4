import Foundation

/// An address of a partner at a site, keyed by (partner code, site, sequence number).
/// Sequence 0 is the bill-to address (Rechnungsadresse), greater sequences are ship-to
/// addresses (Lieferadressen).
public struct Address: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case partnerCode = "partner_code", site, seq, label, street, city, postalCode = "postal_code", country, institution
    }

    public var partnerCode: String
    public var site: String
    public var seq: Int
    public var label: String?
    public var street: String?
    public var city: String?
    public var postalCode: String?
    public var country: String?
    /// The institution (`institution` code) this is the customer's address at: an order placed
    /// with it belongs to the institution and gets its discount.
    public var institution: String?

    public init(partnerCode: String, site: String, seq: Int, label: String? = nil, street: String? = nil,
                city: String? = nil, postalCode: String? = nil, country: String? = nil, institution: String? = nil) {
        self.partnerCode = partnerCode; self.site = site; self.seq = seq; self.label = label
        self.street = street; self.city = city; self.postalCode = postalCode; self.country = country
        self.institution = institution
    }

    public var isBillTo: Bool { seq == 0 }

    /// The replication key: `code|site|seq`.
    public var key: String { Address.key(partnerCode: partnerCode, site: site, seq: seq) }

    public static func key(partnerCode: String, site: String, seq: Int) -> String { "\(partnerCode)|\(site)|\(seq)" }

    public static let columns = ["partner_code", "site", "seq", "label", "street", "city", "postal_code", "country", "institution"]

    public var fields: Fields {
        func t(_ s: String?) -> FieldValue { s.map(FieldValue.text) ?? .null }
        return ["partner_code": .text(partnerCode), "site": .text(site), "seq": .int(Int64(seq)), "label": t(label),
                "street": t(street), "city": t(city), "postal_code": t(postalCode), "country": t(country),
                "institution": t(institution)]
    }

    public init(fields f: Fields) throws {
        guard let code = f["partner_code"]?.text else { throw FieldError(field: "partner_code", reason: "is missing") }
        guard let site = f["site"]?.text else { throw FieldError(field: "site", reason: "is missing") }
        guard let seq = f["seq"]?.int, seq >= 0 else { throw FieldError(field: "seq", reason: "must be 0 or greater") }
        self.init(partnerCode: code, site: site, seq: Int(seq), label: f["label"]?.text, street: f["street"]?.text,
                  city: f["city"]?.text, postalCode: f["postal_code"]?.text, country: f["country"]?.text,
                  institution: f["institution"]?.text)
    }
}
