/// A GGUF metadata value (value types 0–12).
public indirect enum GGUFValue: Sendable, Equatable {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float)
    case bool(Bool), string(String), array([GGUFValue]), u64(UInt64), i64(Int64), f64(Double)

    /// Any integer type as Int (nil for other kinds or values that do not fit).
    public var int: Int? {
        switch self {
        case .u8(let v): Int(v)
        case .i8(let v): Int(v)
        case .u16(let v): Int(v)
        case .i16(let v): Int(v)
        case .u32(let v): Int(v)
        case .i32(let v): Int(v)
        case .u64(let v): Int(exactly: v)
        case .i64(let v): Int(exactly: v)
        default: nil
        }
    }

    public var double: Double? {
        switch self {
        case .f32(let v): Double(v)
        case .f64(let v): v
        default: int.map(Double.init)
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var array: [GGUFValue]? { if case .array(let a) = self { a } else { nil } }
}
