namespace KmeshCompiler.Frontends;

public enum InputKind { Kubernetes, XdsBinary, XdsJson, Kpl }

public static class InputKinds
{
    public static readonly string[] Extensions = [".yaml", ".yml", ".json", ".kpl", ".pb", ".bin", ".snapshot"];

    /// <summary>Decides by extension, then by content: a JSON document that holds xDS responses
    /// (a "resources" array or a type URL) is a snapshot; other JSON is Kubernetes objects (JSON is
    /// YAML). Input without a known extension (stdin) is sniffed the same way, and anything that is
    /// not text is read as a binary snapshot.</summary>
    public static InputKind Classify(SourceText src)
    {
        string ext = System.IO.Path.GetExtension(src.Path).ToLowerInvariant();
        switch (ext)
        {
            case ".yaml" or ".yml": return InputKind.Kubernetes;
            case ".kpl": return InputKind.Kpl;
        }
        var head = src.Bytes.AsSpan(0, Math.Min(src.Bytes.Length, 64 * 1024));
        if (LooksBinary(head)) return InputKind.XdsBinary;
        string text = System.Text.Encoding.UTF8.GetString(head).TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        // A snapshot extension holds either form: text that opens a JSON value is proto JSON.
        if (ext is ".pb" or ".bin" or ".snapshot")
            return text.StartsWith('{') || text.StartsWith('[') ? InputKind.XdsJson : InputKind.XdsBinary;
        if (text.StartsWith('{') || text.StartsWith('['))
        {
            if (text.Contains("\"type.googleapis.com/", StringComparison.Ordinal) ||
                text.Contains("\"typeUrl\"", StringComparison.Ordinal) || text.Contains("\"type_url\"", StringComparison.Ordinal) ||
                text.Contains("\"@type\"", StringComparison.Ordinal))
                return InputKind.XdsJson;
            return InputKind.Kubernetes;
        }
        if (ext == ".json") return InputKind.Kubernetes;
        return LooksLikeKpl(text) ? InputKind.Kpl : InputKind.Kubernetes;
    }

    /// <summary>What a kind of input is, for messages ("Kubernetes YAML or JSON", ...).</summary>
    public static string Describe(InputKind k) => k switch
    {
        InputKind.Kubernetes => "Kubernetes YAML or JSON",
        InputKind.XdsBinary => "a binary xDS snapshot",
        InputKind.XdsJson => "a proto JSON xDS snapshot",
        _ => "the text language (.kpl)",
    };

    private static bool LooksBinary(ReadOnlySpan<byte> b)
    {
        int ctl = 0;
        foreach (var x in b) if (x < 9 || (x > 13 && x < 32)) ctl++;
        return b.Length > 0 && ctl * 20 > b.Length || b.IndexOf((byte)0) >= 0;
    }

    private static bool LooksLikeKpl(string text)
    {
        foreach (var raw in text.Split('\n').Take(50))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith("//", StringComparison.Ordinal)) continue;
            return line.StartsWith("world", StringComparison.Ordinal) || line.StartsWith("namespace ", StringComparison.Ordinal) ||
                   line.StartsWith("policy ", StringComparison.Ordinal) || line.StartsWith("workload ", StringComparison.Ordinal) ||
                   line.StartsWith("node ", StringComparison.Ordinal) || line.StartsWith("service ", StringComparison.Ordinal) ||
                   line.StartsWith("test ", StringComparison.Ordinal) || line.StartsWith("expect ", StringComparison.Ordinal);
        }
        return false;
    }
}
