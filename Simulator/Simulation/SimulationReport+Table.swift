import Foundation

extension SimulationReport {
    /// The report as a two-column table.
    public func table() -> String {
        var rows: [(String, String)] = [
            ("nodes × ops", "\(options.nodes) × \(options.opsPerNode) (seed \(options.seed), \(options.http ? "HTTP" : "in-process"))"),
            ("operations", "\(operations) succeeded, \(refusedLocally) refused locally"),
        ]
        for (k, v) in operationsByKind.sorted(by: { $0.key < $1.key }) { rows.append(("  \(k)", "\(v)")) }
        rows += [
            ("prefix renames", "\(prefixRenames)"),
            ("moves carried out", "\(movesCarriedOut)"),
            ("moves refused", movesRefused.isEmpty ? "0" : movesRefused.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")),
            ("field overwrites", "\(fieldOverwrites)"),
            ("crashes", "\(crashes) (\(duplicatesResent) entries resent and recognised as duplicates)"),
            ("sync rounds", "\(syncRounds) (\(failedSyncRounds) failed)"),
            ("bytes sent", "\(bytesSent) compressed, \(bytesSentUncompressed) uncompressed"),
            ("bytes received", "\(bytesReceived) compressed, \(bytesReceivedUncompressed) uncompressed"),
            ("time", String(format: "%.1f s", seconds)),
            ("state hash", hubStateHash),
            ("converged", converged ? "yes (hub and \(options.nodes) nodes equal)" : "NO (\(distinctNodeHashes) distinct node hashes)"),
            ("missing", missing.isEmpty ? "none" : "\(missing.count): " + missing.prefix(5).joined(separator: "; ")),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }
}
