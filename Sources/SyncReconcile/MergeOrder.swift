import Foundation
import SyncModel

/// The one order in which concurrent writes to the same field are resolved: the later
/// hybrid-logical-clock timestamp wins; equal timestamps are broken by node id (higher wins).
public struct MergeStamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var hlc: HLC
    public var node: String

    public init(hlc: HLC, node: String) {
        self.hlc = hlc
        self.node = node
    }

    public static func < (a: MergeStamp, b: MergeStamp) -> Bool {
        a.hlc != b.hlc ? a.hlc < b.hlc : a.node < b.node
    }

    public var description: String { "\(node)@\(hlc)" }
}
