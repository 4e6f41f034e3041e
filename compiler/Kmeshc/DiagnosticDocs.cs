using System.Text.RegularExpressions;
using KmeshCompiler.Diagnostics;

namespace Kmeshc;

/// <summary>The documentation of each diagnostic code, read from docs/diagnostics.md (embedded in the
/// program): its row (name, message) and the introduction of its section. Used by <c>kmeshc
/// explain</c> and by the SARIF rules. The message itself always comes from the code's descriptor.</summary>
public static class DiagnosticDocs
{
    public sealed record Entry(string Code, string Severity, string Name, string Message, string Section, string SectionIntro)
    {
        public string Anchor => Code.ToLowerInvariant();
    }

    private static readonly Lazy<Dictionary<string, Entry>> _entries = new(Load);

    /// <summary>Where the documentation is published: in a GitHub workflow, this repository's file at
    /// the commit being checked (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA); otherwise
    /// KMESH_DOCS_URL, else the project's repository.</summary>
    public static string BaseUri()
    {
        string? server = Environment.GetEnvironmentVariable("GITHUB_SERVER_URL"), repo = Environment.GetEnvironmentVariable("GITHUB_REPOSITORY"),
            sha = Environment.GetEnvironmentVariable("GITHUB_SHA");
        if (Environment.GetEnvironmentVariable("KMESH_DOCS_URL") is { Length: > 0 } url) return url;
        if (server is { Length: > 0 } && repo is { Length: > 0 } && sha is { Length: > 0 }) return $"{server}/{repo}/blob/{sha}/docs/diagnostics.md";
        return "https://github.com/kmesh-net/kmesh/blob/main/docs/diagnostics.md";
    }

    public static Entry? Find(string code) => _entries.Value.GetValueOrDefault(code.ToUpperInvariant());

    public static string HelpUri(string code) => $"{BaseUri()}#{code.ToLowerInvariant()}";

    /// <summary>Markdown for one code: message, what its family means, and the link.</summary>
    public static string Markdown(DiagnosticDescriptor d)
    {
        var e = Find(d.Code);
        string message = Catalogue.Template(d);
        string intro = e?.SectionIntro is { Length: > 0 } i ? $"\n\n{i}" : "";
        return $"**{d.Code}** ({Severity(d)}) {Catalogue.NameOf(d)}: {message}{intro}\n\n[{d.Code} in docs/diagnostics.md]({HelpUri(d.Code)})";
    }

    /// <summary>Plain text for one code (fullDescription, <c>kmeshc explain</c>).</summary>
    public static string Text(DiagnosticDescriptor d)
    {
        var e = Find(d.Code);
        string message = Catalogue.Template(d);
        var sb = new System.Text.StringBuilder();
        sb.Append($"{d.Code} ({Severity(d)}) {Catalogue.NameOf(d)}");
        if (e is not null) sb.Append($" - {e.Section}");
        sb.Append($"\n\n  {message}\n");
        if (e?.SectionIntro is { Length: > 0 } intro) sb.Append('\n').Append(intro).Append('\n');
        sb.Append($"\nPlaceholders (‹a›, ‹b›, ...) are filled with the offending value, field or object.\nDocumentation: docs/diagnostics.md#{d.Code.ToLowerInvariant()}\n");
        return sb.ToString();
    }

    private static string Severity(DiagnosticDescriptor d) => d.Severity.ToString().ToLowerInvariant();

    private static Dictionary<string, Entry> Load()
    {
        var result = new Dictionary<string, Entry>(StringComparer.Ordinal);
        using var s = typeof(DiagnosticDocs).Assembly.GetManifestResourceStream("diagnostics.md");
        if (s is null) return result;
        using var reader = new StreamReader(s);
        string section = "", intro = "";
        var introLines = new List<string>();
        bool inIntro = false;
        foreach (var raw in reader.ReadToEnd().Replace("\r\n", "\n").Split('\n'))
        {
            if (raw.StartsWith("## ", StringComparison.Ordinal))
            {
                section = raw[3..].Trim();
                introLines.Clear();
                inIntro = true;
                continue;
            }
            if (raw.StartsWith('|'))
            {
                if (inIntro) { intro = string.Join(' ', introLines).Trim(); inIntro = false; }
                var cells = raw.Trim('|').Split(" | ");
                if (cells.Length < 4 || !Regex.IsMatch(cells[0].Trim(), @"^KM\d{4}$")) continue;
                string name = Regex.Replace(cells[2], "<[^>]*>", "").Trim();
                result[cells[0].Trim()] = new Entry(cells[0].Trim(), cells[1].Trim(), name, string.Join(" | ", cells.Skip(3)).Trim(), section, intro);
                continue;
            }
            if (inIntro && raw.Trim().Length > 0) introLines.Add(raw.Trim());
        }
        return result;
    }
}
