import Foundation

/// The multi-site customer move: "customer 1 at site A is customer 2 at site B". Re-designates the current
/// site's (customer, seq) as another site's (customer, seq).
public struct MoveRequest: Sendable, Hashable, Codable {
    enum CodingKeys: String, CodingKey {
        case currentCode = "current_code", currentSeq = "current_seq", newCode = "new_code", newSeq = "new_seq", fromSite = "from_site", site
    }

    public var currentCode: String
    public var currentSeq: Int
    public var newCode: String
    public var newSeq: Int
    /// The site where the new customer exists (B).
    public var fromSite: String
    /// The site the move is carried out at (A): the requesting node's site.
    public var site: String

    public init(currentCode: String, currentSeq: Int, newCode: String, newSeq: Int, fromSite: String, site: String = "") {
        self.currentCode = currentCode; self.currentSeq = currentSeq; self.newCode = newCode
        self.newSeq = newSeq; self.fromSite = fromSite; self.site = site
    }

    /// Parses `CODE:SEQ` as given on the command line.
    public static func parseCustomer(_ text: String, field: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let seq = Int(text[text.index(after: colon)...]), seq >= 0,
              colon != text.startIndex else {
            throw FieldError(field: field, reason: "'\(text)' is not CODE:SEQ such as 1001:0")
        }
        return (PartnerCode.normalized(String(text[..<colon])), seq)
    }

    public var fields: Fields {
        ["current_code": .text(currentCode), "current_seq": .int(Int64(currentSeq)), "new_code": .text(newCode),
         "new_seq": .int(Int64(newSeq)), "from_site": .text(fromSite), "site": .text(site)]
    }

    public init(fields f: Fields) throws {
        guard let cc = f["current_code"]?.text, let cs = f["current_seq"]?.int,
              let nc = f["new_code"]?.text, let ns = f["new_seq"]?.int, let from = f["from_site"]?.text else {
            throw FieldError(field: "move", reason: "move request is missing current, new or from-site")
        }
        self.init(currentCode: cc, currentSeq: Int(cs), newCode: nc, newSeq: Int(ns), fromSite: from, site: f["site"]?.text ?? "")
    }
}
