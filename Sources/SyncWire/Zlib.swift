import CZlib

/// A failure of the zlib wrapper.
public enum ZlibError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The compression level is outside -1...9.
    case invalidLevel(Int32)
    /// The output cap passed to `decompress` is negative.
    case invalidLimit(Int)
    /// Inflating would produce more than `limit` bytes; inflation stopped at the cap.
    case outputLimitExceeded(limit: Int)
    /// The stream is not valid zlib data (bad header, bad block, bad Adler-32 check...).
    case corruptData(String)
    /// The stream needs a preset dictionary, which this format never uses.
    case needsDictionary
    /// The input ended before the end of the zlib stream.
    case truncatedStream
    /// Bytes follow the end of the zlib stream.
    case trailingData(bytes: Int)
    /// zlib reported an unexpected status (out of memory, version mismatch...).
    case internalError(function: String, code: Int32)

    public var description: String {
        switch self {
        case .invalidLevel(let l): return "invalid zlib compression level \(l) (expected -1...9)"
        case .invalidLimit(let l): return "invalid inflate output limit \(l)"
        case .outputLimitExceeded(let l): return "inflated output exceeds the limit of \(l) bytes"
        case .corruptData(let m): return "corrupt zlib data (\(m))"
        case .needsDictionary: return "zlib stream asks for a preset dictionary"
        case .truncatedStream: return "zlib stream is truncated"
        case .trailingData(let n): return "\(n) bytes follow the end of the zlib stream"
        case .internalError(let f, let c): return "\(f) failed with zlib status \(c)"
        }
    }
}

/// zlib (RFC 1950) compression, bounded decompression and CRC-32, over the system zlib.
public enum Zlib {
    /// Output of inflate is produced in chunks of this size; peak memory of
    /// `decompress` is at most `limit + chunkSize` bytes plus zlib's own 32 KiB window.
    static let chunkSize = 64 * 1024

    /// Compresses `bytes` into one complete zlib stream (RFC 1950).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        guard (-1...9).contains(level) else { throw ZlibError.invalidLevel(level) }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deinitialize(count: 1); stream.deallocate() }

        let rcInit = deflateInit_(stream, level, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rcInit == Z_OK else { throw ZlibError.internalError(function: "deflateInit", code: rcInit) }
        defer { deflateEnd(stream) }

        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, uLong(bytes.count))))
        var produced = 0
        try bytes.withUnsafeBufferPointer { input in
            var inOffset = 0
            while true {
                if stream.pointee.avail_in == 0 && inOffset < input.count {
                    let n = min(input.count - inOffset, Int(UInt32.max))
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + inOffset)
                    stream.pointee.avail_in = uInt(n)
                    inOffset += n
                }
                let flush = (inOffset == input.count) ? Z_FINISH : Z_NO_FLUSH
                if produced == output.count {
                    output.append(contentsOf: repeatElement(0, count: max(output.count / 2, 1024)))
                }
                let room = min(output.count - produced, Int(UInt32.max))
                let rc: Int32 = output.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress! + produced
                    stream.pointee.avail_out = uInt(room)
                    let rc = deflate(stream, flush)
                    produced += room - Int(stream.pointee.avail_out)
                    return rc
                }
                if rc == Z_STREAM_END { break }
                guard rc == Z_OK || rc == Z_BUF_ERROR else {
                    throw ZlibError.internalError(function: "deflate", code: rc)
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Inflates one complete zlib stream, refusing to produce more than `limit` bytes.
    ///
    /// Inflation writes into a 64 KiB chunk and never produces more than `limit + 1` bytes;
    /// the output buffer's capacity never exceeds `limit`:
    /// as soon as the stream would inflate past `limit`, it stops and throws
    /// `ZlibError.outputLimitExceeded`. A decompression bomb therefore costs bounded memory.
    /// Bytes after the end of the stream are an error.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws -> [UInt8] {
        try bytes.withUnsafeBufferPointer { try decompress($0, limit: limit) }
    }

    /// `expectedSize`: the size the caller expects (e.g. a header's declared length); the output
    /// buffer is reserved at min(expectedSize, limit) up front, so it is never reallocated on
    /// the way to the cap (untouched reserved pages cost no resident memory).
    static func decompress(_ input: UnsafeBufferPointer<UInt8>, limit: Int, expectedSize: Int? = nil) throws -> [UInt8] {
        guard limit >= 0 else { throw ZlibError.invalidLimit(limit) }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deinitialize(count: 1); stream.deallocate() }

        let rcInit = inflateInit_(stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rcInit == Z_OK else { throw ZlibError.internalError(function: "inflateInit", code: rcInit) }
        defer { inflateEnd(stream) }

        var output = [UInt8]()
        if let expectedSize {
            output.reserveCapacity(min(max(expectedSize, 0), limit))
        } else {
            output.reserveCapacity(min(limit, max(input.count * 4, 4096), 1 << 20))
        }
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var inOffset = 0
        while true {
            if stream.pointee.avail_in == 0 && inOffset < input.count {
                let n = min(input.count - inOffset, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + inOffset)
                stream.pointee.avail_in = uInt(n)
                inOffset += n
            }
            // Never let inflate write more than one byte past the cap.
            let remaining = limit - output.count
            let want = remaining >= chunkSize ? chunkSize : remaining + 1
            var produced = 0
            let rc: Int32 = chunk.withUnsafeMutableBufferPointer { out in
                stream.pointee.next_out = out.baseAddress!
                stream.pointee.avail_out = uInt(want)
                let rc = inflate(stream, Z_NO_FLUSH)
                produced = want - Int(stream.pointee.avail_out)
                return rc
            }
            if produced > 0 {
                guard produced <= remaining else { throw ZlibError.outputLimitExceeded(limit: limit) }
                if output.count + produced > output.capacity {
                    // Grow geometrically, but never reserve past the cap.
                    output.reserveCapacity(min(limit, max(output.capacity * 2, output.count + produced)))
                }
                output.append(contentsOf: chunk[0..<produced])
            }
            switch rc {
            case Z_STREAM_END:
                let trailing = Int(stream.pointee.avail_in) + (input.count - inOffset)
                guard trailing == 0 else { throw ZlibError.trailingData(bytes: trailing) }
                return output
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: with output room available this means the input ran out.
                throw ZlibError.truncatedStream
            case Z_NEED_DICT:
                throw ZlibError.needsDictionary
            case Z_DATA_ERROR:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw ZlibError.corruptData(message)
            default:
                throw ZlibError.internalError(function: "inflate", code: rc)
            }
        }
    }

    /// CRC-32 (ISO-HDLC / zlib / PNG polynomial 0xEDB88320, reflected, init and xorout 0xFFFFFFFF).
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { crc32($0) }
    }

    static func crc32(_ buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        var offset = 0
        while offset < buffer.count {
            let n = min(buffer.count - offset, Int(UInt32.max))
            crc = CZlib.crc32(crc, buffer.baseAddress! + offset, uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
