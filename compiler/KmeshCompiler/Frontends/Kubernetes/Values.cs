using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>The value conversions istiod applies when it translates an AuthorizationPolicy for ambient
/// (semantics.md §2), with the stricter error handling of this compiler.</summary>
public static class Values
{
    /// <summary>"*" → presence; a leading "*" → suffix; else a trailing "*" → prefix; else exact. Only one
    /// star is removed, so "*a*" is the suffix "a*" (with a literal star).</summary>
    public static StringMatch ToStringMatch(string v) =>
        v == "*" ? new StringMatch(StringMatchKind.Presence, "")
        : v.StartsWith('*') ? new StringMatch(StringMatchKind.Suffix, v[1..])
        : v.EndsWith('*') ? new StringMatch(StringMatchKind.Prefix, v[..^1])
        : new StringMatch(StringMatchKind.Exact, v);

    /// <summary>True when the converted value still holds a star, which no real name contains.</summary>
    public static bool HasLiteralStar(StringMatch m) => m.Kind != StringMatchKind.Presence && m.Value.Contains('*');

    /// <summary>A decimal port 0..65535; leading zeros allowed ("08080" is 8080), no sign, name or range.</summary>
    public static bool TryParsePort(string s, out uint port)
    {
        port = 0;
        if (s.Length == 0 || !s.All(char.IsAsciiDigit)) return false;
        string t = s.TrimStart('0');
        if (t.Length > 5) return false;
        uint v = t.Length == 0 ? 0 : uint.Parse(t, System.Globalization.CultureInfo.InvariantCulture);
        if (v > 65535) return false;
        port = v;
        return true;
    }

    /// <summary>Go's strconv.ParseBool, which istiod uses for istio.io/dry-run.</summary>
    public static bool TryParseGoBool(string s, out bool value)
    {
        switch (s)
        {
            case "1" or "t" or "T" or "TRUE" or "true" or "True": value = true; return true;
            case "0" or "f" or "F" or "FALSE" or "false" or "False": value = false; return true;
            default: value = false; return false;
        }
    }

    /// <summary>"ns/sa" or bare "sa" (in the policy's namespace); no wildcards.</summary>
    public static bool TryParseServiceAccount(string s, string policyNamespace, out ServiceAccountMatch? sa, out string error)
    {
        sa = null;
        error = "";
        if (s.Contains('*')) { error = "wildcards are not allowed"; return false; }
        var parts = s.Split('/');
        if (parts.Length > 2) { error = "more than one '/'"; return false; }
        if (parts.Any(p => p.Length == 0)) { error = "a side of '/' is empty"; return false; }
        sa = parts.Length == 1 ? new ServiceAccountMatch(policyNamespace, parts[0]) : new ServiceAccountMatch(parts[0], parts[1]);
        return true;
    }

    /// <summary>Trust domains allow "*", "*suffix" or "prefix*" only.</summary>
    public static bool IsValidTrustDomainPattern(string s)
    {
        if (s == "*") return true;
        string inner = s.StartsWith('*') ? s[1..] : s.EndsWith('*') ? s[..^1] : s;
        return inner.Length > 0 && !inner.Contains('*');
    }
}
