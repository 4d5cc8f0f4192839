import PareCore

/// Why a job cannot run: a setting out of range (named by its key, which the caller shows as
/// `--flag` or `section.key`), or a failure underneath it, with the library's message.
public struct RecipeError: SettingError {
    /// The setting at fault, by its snake_case key, when there is one.
    public let key: String?
    public let rawMessage: String

    /// `key` is out of range or inconsistent: the message follows the key's name.
    public static func invalid(_ key: String, _ message: String) -> RecipeError {
        RecipeError(key: key, rawMessage: "\(SettingName.ref(key)) \(message)")
    }

    /// A failure that names its own subject (a file, a model).
    public static func failed(_ message: String) -> RecipeError { RecipeError(key: nil, rawMessage: message) }

    /// Any library error as a message in one vocabulary: settings it names are rendered by `name`.
    public static func message(_ error: Error, naming name: (String) -> String) -> String {
        if let e = error as? SettingError { return SettingName.render(e.rawMessage, name) }
        return SystemErrorText.describe(error)
    }
}
