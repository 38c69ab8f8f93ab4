import Foundation
import Testing
import Simulation

@Suite("possim reconnect simulation", .serialized)
struct SimulationTests {
    func options(seed: UInt64, http: Bool = false) -> SimulationOptions {
        var o = SimulationOptions()
        o.nodes = 4
        o.opsPerNode = 60
        o.offlineFraction = 0.5
        o.clashRate = 0.3
        o.moveRate = 0.05
        o.crashRate = 0.05
        o.syncEvery = 4
        o.seed = seed
        o.http = http
        return o
    }

    @Test("a run with offline windows, clashes, moves and crashes converges with nothing missing")
    func converges() async throws {
        let report = try await Simulation(options: options(seed: 7)).run()
        #expect(report.converged)
        #expect(report.missing.isEmpty, "\(report.missing)")
        #expect(report.prefixRenames > 0, "clash rate 0.3 should produce renames")
        #expect(report.crashes > 0)
        #expect(report.operations > 150)
    }

    @Test("the same seed gives the same final state hash, in-process and over loopback HTTP; another seed differs")
    func deterministic() async throws {
        let a = try await Simulation(options: options(seed: 11)).run()
        let b = try await Simulation(options: options(seed: 11)).run()
        let h = try await Simulation(options: options(seed: 11, http: true)).run()
        let other = try await Simulation(options: options(seed: 12)).run()
        #expect(a.hubStateHash == b.hubStateHash)
        #expect(a.hubStateHash == h.hubStateHash)
        #expect(a.hubStateHash != other.hubStateHash)
        #expect(h.passed)
    }

    @Test("with regions every store converges to its region, in-process and over loopback HTTP, with nothing missing")
    func regions() async throws {
        var o = options(seed: 5)
        o.nodes = 6
        o.regionSize = 2
        let a = try await Simulation(options: o).run()
        o.http = true
        let h = try await Simulation(options: o).run()
        for r in [a, h] {
            #expect(r.passed, "\(r.nodesDiffering) nodes differ; missing: \(r.missing)")
            #expect(r.regions == 3)
            #expect(r.distinctNodeHashes == 3, "one state per region: stores do not get other regions' records")
        }
        #expect(a.hubStateHash == h.hubStateHash)
    }
}
