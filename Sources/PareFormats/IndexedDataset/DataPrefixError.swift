import PareCore

/// A data spec that cannot be read as one prefix or weight/prefix pairs.
public struct DataPrefixError: SettingError {
    public let rawMessage: String
    init(_ m: String) { rawMessage = m }
}
