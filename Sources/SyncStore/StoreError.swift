import Foundation
import SyncModel

/// Store failures with the record they concern, phrased for an operator.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case notInitialized(path: String)
    case alreadyInitialized(path: String, node: String)
    case notFound(entity: Entity, key: String)
    case badKey(entity: Entity, key: String)
    case invalid(FieldError)
    case renameTargetTaken(entity: Entity, old: String, new: String)
    case unexpectedReply(String)
    /// No record kind of that name in the store's `RecordKinds`.
    case unknownKind(String)
    /// A record only the hub writes (central master data), or a change its kind does not allow.
    case notWritable(entity: Entity, key: String, reason: String)

    public var description: String {
        switch self {
        case .notInitialized(let path):
            return "store \(path) is not initialized; run 'posnode init --db \(path) --node ID --site SITE --series SERIES' first"
        case .alreadyInitialized(let path, let node):
            return "store \(path) is already initialized for node \(node)"
        case .notFound(let entity, let key):
            return "\(entity.rawValue) '\(key)' does not exist"
        case .badKey(let entity, let key):
            return "'\(key)' is not a valid \(entity.rawValue) key"
        case .invalid(let e):
            return e.description
        case .renameTargetTaken(let entity, let old, let new):
            return "cannot rename \(entity.rawValue) \(old) to \(new): a local \(entity.rawValue) already has code \(new)"
        case .unexpectedReply(let what):
            return what
        case .unknownKind(let name):
            return "no record kind '\(name)'"
        case .notWritable(let entity, let key, let reason):
            return "\(entity.rawValue) '\(key)': \(reason)"
        }
    }
}
