import Foundation

/// A fresh temporary folder, removed with `remove()` (tests call it in `defer`).
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "posnode-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        let path = "\(base)/\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
