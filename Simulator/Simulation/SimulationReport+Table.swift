import Foundation

extension SimulationReport {
    /// The report as a two-column table.
    public func table() -> String {
        var rows: [(String, String)] = [
            ("nodes × ops", "\(options.nodes) × \(options.opsPerNode) (seed \(options.seed), \(options.http ? "HTTP" : "in-process"))"),
            ("regions", options.regionSize > 0 ? "\(regions) of up to \(options.regionSize) stores" : "1 (every store gets every record)"),
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
            ("converged", converged
                ? (regions > 1 ? "yes (\(options.nodes) nodes equal to their region at the hub)" : "yes (hub and \(options.nodes) nodes equal)")
                : "NO (\(nodesDiffering) of \(options.nodes) nodes differ from their region at the hub)"),
            ("missing", missing.isEmpty ? "none" : "\(missing.count): " + missing.prefix(5).joined(separator: "; ")),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }
}
