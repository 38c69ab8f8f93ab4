import Foundation
import GRDB
import SyncModel
import SyncStore

/// The stamps of a row's fields changed since its creation, as the hub keeps them in the row's
/// `clock_fields` column: `field:hlc:node` entries joined by `;`, sorted by field (field names
/// are column names, node ids letters, digits, '-' and '_', so neither separator occurs in them).
struct FieldClocks {
    /// Sorted by field; a row has a few (a linear search beats hashing the names).
    private var stamps: [(field: String, stamp: MergeStamp)] = []

    init(_ column: DatabaseValue) {
        guard case .string(let text) = column.storage else { return }
        for entry in text.utf8.split(separator: UInt8(ascii: ";")) {
            let parts = entry.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard parts.count == 3, let hlc = Int64(Substring(parts[1])) else { continue }
            self[String(Substring(parts[0]))] = MergeStamp(hlc: HLC(rawValue: UInt64(bitPattern: hlc)), node: String(Substring(parts[2])))
        }
    }

    subscript(field: String) -> MergeStamp? {
        get { stamps.first { $0.field == field }?.stamp }
        set {
            // The field's place in the sorted list: its entry, or where it goes.
            let i = stamps.firstIndex { $0.field >= field } ?? stamps.endIndex
            if i < stamps.endIndex, stamps[i].field == field {
                if let newValue { stamps[i].stamp = newValue } else { stamps.remove(at: i) }
            } else if let newValue {
                stamps.insert((field, newValue), at: i)
            }
        }
    }

    var text: String {
        var out = ""
        for (i, s) in stamps.enumerated() {
            if i > 0 { out += ";" }
            out += s.field
            out += ":"
            out += String(Int64(bitPattern: s.stamp.hlc.rawValue))
            out += ":"
            out += s.stamp.node
        }
        return out
    }
}
