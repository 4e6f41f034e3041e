namespace KmeshCompiler.Diagnostics;

/// <summary>A suppressed code, everywhere or on the objects named NS/NAME (a '*' matches any run of
/// characters), as <c>--suppress CODE[=NS/NAME]</c> or the annotation <c>kmesh.io/suppress:
/// "CODE,CODE"</c> on an object (which names that object exactly). Errors are never suppressed:
/// they would still stop a compile.</summary>
public sealed record Suppression(string Code, string? Object)
{
    public const string Annotation = "kmesh.io/suppress";

    /// <summary>Parses CODE or CODE=NS/NAME; null when the text is neither.</summary>
    public static Suppression? Parse(string text)
    {
        int eq = text.IndexOf('=');
        string code = (eq < 0 ? text : text[..eq]).Trim().ToUpperInvariant();
        string? obj = eq < 0 ? null : text[(eq + 1)..].Trim();
        if (!System.Text.RegularExpressions.Regex.IsMatch(code, @"^KM\d{4}$")) return null;
        if (obj is not null && (obj.Length == 0 || obj.Split('/').Length != 2)) return null;
        return new Suppression(code, obj);
    }

    /// <summary>Whether this suppression covers <paramref name="d"/>. A diagnostic names its object as
    /// "Kind NS/NAME"; the rule's NS/NAME is matched against the part after the kind.</summary>
    public bool Covers(Diagnostic d)
    {
        if (d.Severity == Severity.Error || !string.Equals(d.Code, Code, StringComparison.Ordinal)) return false;
        if (Object is null) return true;
        if (d.Object is null) return false;
        string name = d.Object[(d.Object.LastIndexOf(' ') + 1)..];
        return Glob(Object, name);
    }

    private static bool Glob(string pattern, string s) =>
        System.Text.RegularExpressions.Regex.IsMatch(s, "^" + System.Text.RegularExpressions.Regex.Escape(pattern).Replace("\\*", ".*") + "$");

    /// <summary>The diagnostics no suppression covers, and how many were suppressed.</summary>
    public static IReadOnlyList<Diagnostic> Apply(IReadOnlyList<Diagnostic> diags, IReadOnlyCollection<Suppression> rules, out int suppressed)
    {
        if (rules.Count == 0) { suppressed = 0; return diags; }
        var kept = diags.Where(d => !rules.Any(r => r.Covers(d))).ToList();
        suppressed = diags.Count - kept.Count;
        return kept;
    }
}
