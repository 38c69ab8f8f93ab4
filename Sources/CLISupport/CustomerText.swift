import Foundation
import SyncModel
import SyncStore

/// How the CLIs of node and hub print the customer module's listings.
public enum InstitutionText {
    public static func line(_ i: Institution) -> String {
        "\(i.code)\t\(i.name)\t\(i.kind)\tdiscount \(i.discount) %\t\(i.active ? "active" : "inactive")"
    }

    /// The institution, each member with its addresses at it, and the orders placed with them.
    public static func listing(_ l: InstitutionListing) -> String {
        var out = "institution \(l.institution.code)\t\(l.institution.name)\t\(l.institution.kind)\tdiscount \(l.institution.discount) %\t\(l.institution.active ? "active" : "inactive")\n"
        out += "members (\(l.members.count)):\n"
        for m in l.members {
            out += "  \(m.code)\t\(m.name)\tcategory \(m.category ?? "-")\n"
            for a in m.addresses {
                out += "    address \(a.site)/\(a.seq)\t\([a.street, a.postalCode, a.city].compactMap { $0 }.joined(separator: ", "))\n"
            }
        }
        out += "orders of its members (\(l.memberOrders.count)):\n"
        for d in l.memberOrders { out += "  " + DocumentText.line(d) + "\n" }
        out += "documents placed with an address at it (\(l.documents.count)):\n"
        for d in l.documents { out += "  " + DocumentText.line(d) + "\n" }
        return out
    }
}

public enum DocumentText {
    /// `O1-O3  order  K1  site WAW/1  110.00 PLN  2 lines`.
    public static func line(_ d: Document) -> String {
        var parts = [d.id, d.kind.rawValue, d.isAnonymous ? "anonymous" : d.partnerCode]
        if !d.isAnonymous { parts.append("site \(d.site)/\(d.addressSeq)") }
        parts.append("\(Document.formatAmount(d.amountMinor)) \(d.currency)")
        if !d.lines.isEmpty { parts.append("\(d.lines.count) line\(d.lines.count == 1 ? "" : "s")") }
        if let v = d.priceVersion { parts.append("price version \(v)") }
        return parts.joined(separator: "\t")
    }

    /// The invoicing fields that are set, one per line (`  invoice status: dunning-2`); empty
    /// when none is.
    public static func invoicing(_ d: Document) -> String {
        var out: [String] = []
        func add(_ label: String, _ value: String?) { if let value { out.append("  \(label): \(value)") } }
        add("invoice status", d.invoiceStatus?.rawValue)
        add("payment method", d.paymentMethod)
        add("payment terms", d.paymentTerms)
        add("installments", d.installments.map(String.init))
        add("salesperson", d.salesperson)
        add("bill-to address", d.billToSeq.map { "\(d.site)/\($0)" })
        add("payment status", d.paymentStatus?.rawValue)
        add("reference numbers", d.referenceNumbers)
        add("booking", d.booking)
        return out.joined(separator: "\n")
    }

    /// The document and one line per line: offer, quantity × unit price, discount, total.
    public static func withLines(_ d: Document) -> String {
        var out = line(d) + "\n"
        for l in d.lines {
            out += "  \(l.offer)\t\(l.quantity) x \(Document.formatAmount(l.unitPrice)) (\(l.source.label))"
            if l.discount > 0 { out += "\t-\(l.discountRate) % = -\(Document.formatAmount(l.discount))" }
            out += "\t\(Document.formatAmount(l.lineTotal))\n"
        }
        return out
    }
}
