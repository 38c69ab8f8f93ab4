import Foundation
import SyncModel
import SyncStore

/// The access report as a page a person reads and prints: a section per part of Art. 15, a
/// table per category of data. No script, no external resource.
public enum AccessReportHTML {
    public static func render(_ r: AccessReport) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Access report \(e(r.accessCase.id))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #111; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; width: 100%; }
            th, td { border: 1px solid #999; padding: 0.3em 0.5em; text-align: left; vertical-align: top; font-size: 0.9em; }
            th { background: #eee; }
            h2 { border-bottom: 1px solid #333; margin-top: 1.5em; }
            @media print { h2 { page-break-after: avoid; } table { page-break-inside: auto; } }
            </style></head><body>
            <h1>Access report (GDPR Art. 15)</h1>

            """
        let c = r.accessCase
        h += table(["Case", "Received", "Due", "Status", "Requested by", "Generated"],
                   [[c.id, c.received, c.due + (c.extendedMonths > 0 ? " (extended by \(c.extendedMonths) month(s): \(c.extensionReason ?? ""))" : ""),
                     c.status, "\(c.identifierKind) \(c.identifier)", r.generatedAt]])
        for note in r.notes { h += "<p>\(e(note))</p>\n" }

        h += "<h2>1. Purposes, legal basis and storage period</h2>\n"
        h += r.policy.isEmpty ? "<p>No personal data of the person is held.</p>\n"
            : table(["Category", "Data", "Purposes", "Legal basis", "Storage period"],
                    r.policy.map { [$0.category, $0.data, $0.purposes, $0.legalBasis, $0.storagePeriod] })

        h += "<h2>2. Categories of personal data held</h2>\n"
        h += r.categories.isEmpty ? "<p>None.</p>\n" : "<ul>" + r.categories.map { "<li>\(e($0))</li>" }.joined() + "</ul>\n"

        h += "<h2>3. Recipients</h2>\n"
        h += r.recipients.isEmpty ? "<p>No store has received the person's records.</p>\n"
            : table(["Store (node)", "Site", "Region", "Last received changes"],
                    r.recipients.map { [$0.node, $0.site, $0.region.isEmpty ? "-" : $0.region, $0.lastPullAt ?? "-"] })
        h += "<p>External systems: \(r.externalSystems.isEmpty ? "none received or sent the person's data." : e(r.externalSystems.joined(separator: ", ")))</p>\n"

        h += "<h2>4. Copy of the data, with its source</h2>\n"
        for s in r.subjects {
            h += "<h3>Customer \(e(s.code))\(s.formerCodes.isEmpty ? "" : " (before: \(e(s.formerCodes.joined(separator: ", "))))")</h3>\n"
            if let system = s.source.system {
                h += "<p>Transferred from the external system \(e(system)) by the hub on \(e(s.source.at ?? "?")).</p>\n"
            } else {
                h += "<p>Collected by store \(e(s.source.node))\(s.source.site.map { " at site \(e($0))" } ?? "") on \(e(s.source.at ?? "?")).</p>\n"
            }
            if !s.externalReferences.isEmpty {
                h += "<h4>external references</h4>\n"
                h += table(["System", "Customer id", "Address id", "Debtor number", "Since"],
                           s.externalReferences.map { [$0.system, $0.externalCustomerID, $0.externalAddressID, $0.debtorNumber ?? "", $0.createdAt] })
            }
            for category in Set(s.data.map(\.category)).sorted() {
                h += "<h4>\(e(category))</h4>\n"
                h += table(["Field", "Value", "Written by", "At"], s.data.filter { $0.category == category }.map { [$0.label, $0.value, $0.node ?? "-", $0.at ?? "-"] })
            }
            if !s.addresses.isEmpty {
                h += "<h4>addresses</h4>\n"
                h += table(["Site", "Seq", "Label", "Street", "City", "Postal code", "Country", "Institution"],
                           s.addresses.map { [$0.site, String($0.seq), $0.label ?? "", $0.street ?? "", $0.city ?? "", $0.postalCode ?? "", $0.country ?? "", $0.institution ?? ""] })
            }
            if !s.memberships.isEmpty { h += "<h4>memberships</h4>\n<p>\(e(s.memberships.joined(separator: ", ")))</p>\n" }
            for group in s.records where !group.rows.isEmpty {
                let columns = Array(Set(group.rows.flatMap(\.keys))).sorted()
                h += "<h4>\(e(group.kind)) (\(e(group.categories.joined(separator: ", "))))</h4>\n"
                h += table(columns, group.rows.map { row in columns.map { row[$0]?.auditText ?? "" } })
            }
            if !s.documents.isEmpty {
                h += "<h4>documents</h4>\n"
                h += table(["Document", "Kind", "Issued", "Store", "Amount", "Status"],
                           s.documents.map { [$0.id, $0.kind.rawValue, $0.issuedAt, $0.node, "\(Document.formatAmount($0.amountMinor)) \($0.currency)", $0.status] })
            }
            if !s.history.isEmpty {
                h += "<h4>older values still held</h4>\n"
                h += table(["At", "Store", "Kind", "Record", "Field", "Old value", "New value", "Reason"],
                           s.history.map { [$0.at, $0.node, $0.kind, "\($0.entity) \($0.key)", $0.field ?? "", $0.oldValue ?? "", $0.newValue ?? "", $0.reason] })
            }
        }

        h += "<h2>5. The stores' answers</h2>\n"
        h += r.stores.isEmpty ? "<p>No store holds records of the person's region.</p>\n"
            : table(["Store (node)", "Site", "Answered", "Last contact"],
                    r.stores.map { [$0.node, $0.site, $0.answeredAt ?? "pending", $0.lastContact ?? "never"] })
        for answer in r.stores {
            guard let text = answer.extract, let x = try? JSONDecoder().decode(StoreExtract.self, from: Data(text.utf8)) else { continue }
            guard !x.pending.isEmpty || !x.audit.isEmpty else { continue }
            h += "<h3>Store \(e(answer.node)): what it holds beyond the hub</h3>\n"
            if !x.pending.isEmpty {
                h += table(["Unsent change", "Record", "Fields"],
                           x.pending.map { ["\($0.op.rawValue) #\($0.seq)", "\($0.entity.rawValue) \($0.key)", $0.fields.canonicalJSON()] })
            }
            if !x.audit.isEmpty {
                h += table(["At", "Kind", "Record", "Field", "Old value", "New value", "Reason"],
                           x.audit.map { [$0.at, $0.kind, "\($0.entity) \($0.key)", $0.field ?? "", $0.oldValue ?? "", $0.newValue ?? "", $0.reason] })
            }
        }
        h += "</body></html>\n"
        return h
    }

    static func table(_ head: [String], _ rows: [[String]]) -> String {
        "<table><tr>" + head.map { "<th>\(e($0))</th>" }.joined() + "</tr>\n"
            + rows.map { "<tr>" + $0.map { "<td>\(e($0))</td>" }.joined() + "</tr>\n" }.joined() + "</table>\n"
    }

    /// HTML text: `&`, `<`, `>`, `"` and `'` escaped.
    static func e(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
