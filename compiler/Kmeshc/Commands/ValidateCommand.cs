using System.CommandLine;
using System.Text;
using System.Text.Json;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc validate</c>: CI policy validation (cli.md). Every diagnostic of every input,
/// sorted by file, line and column, in one of four formats; exit 1 on errors (or warnings with
/// <c>--fail-on warning</c>), 2 when an input cannot be read.</summary>
public static class ValidateCommand
{
    public static Command Create()
    {
        var inputs = Cli.Inputs();
        var format = new Option<string>("--format")
        {
            Description = "Output format: text (path:line:column: severity CODE: message), json, sarif (SARIF 2.1.0 for code scanning) or github (workflow annotations).",
            DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json", "sarif", "github");
        var failOn = new Option<string>("--fail-on")
        {
            Description = "Lowest severity that makes the command exit 1: error (default) or warning.",
            DefaultValueFactory = _ => "error",
        };
        failOn.AcceptOnlyFromAmong("error", "warning");

        var cmd = new Command("validate", "Validate Kubernetes and Istio resources for CI, reporting every problem with its file, line and column. Exit 0 valid, 1 errors (or warnings with --fail-on warning), 2 unreadable input.")
        {
            inputs, format, failOn,
        };
        Cli.AddInputOptions(cmd);
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            var res = InputLoader.Load(parse.GetValue(inputs) ?? [], Cli.Settings(parse));
            var diags = res.Diagnostics.Sorted();
            string text = (parse.GetValue(format) ?? "text") switch
            {
                "json" => Json(diags),
                "sarif" => Sarif(diags),
                "github" => Github(diags),
                _ => Text(diags, Colour(io.Out)),
            };
            io.Out.Write(text);
            int errors = diags.Count(d => d.Severity == KmeshCompiler.Diagnostics.Severity.Error);
            int warnings = diags.Count(d => d.Severity == KmeshCompiler.Diagnostics.Severity.Warning);
            if ((parse.GetValue(format) ?? "text") == "text")
                io.Err.WriteLine($"kmeshc: {Plural(errors, "error")}, {Plural(warnings, "warning")}");
            if (res.EnvironmentError) return Cli.Usage;
            bool failWarnings = parse.GetValue(failOn) == "warning";
            return errors > 0 || (failWarnings && warnings > 0) ? Cli.Failed : Cli.Ok;
        });
        return cmd;
    }

    private static string Plural(int n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";

    private static bool Colour(TextWriter w) =>
        ReferenceEquals(w, Console.Out) && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;

    private static string SeverityName(Diagnostic d) => d.Severity.ToString().ToLowerInvariant();

    public static string Text(IReadOnlyList<Diagnostic> diags, bool colour = false)
    {
        var sb = new StringBuilder();
        foreach (var d in diags)
        {
            if (!colour) { sb.Append(d).Append('\n'); continue; }
            string c = d.Severity switch { KmeshCompiler.Diagnostics.Severity.Error => "\e[31m", KmeshCompiler.Diagnostics.Severity.Warning => "\e[33m", _ => "\e[36m" };
            string where = d.Location.IsKnown ? d.Location.ToString() : "<input>";
            sb.Append($"\e[1m{where}:\e[0m {c}{SeverityName(d)} {d.Code}:\e[0m {d.Message}\n");
        }
        return sb.ToString();
    }

    public static string Json(IReadOnlyList<Diagnostic> diags)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("diagnostics");
            foreach (var d in diags)
            {
                w.WriteStartObject();
                w.WriteString("code", d.Code);
                w.WriteString("severity", SeverityName(d));
                w.WriteString("file", d.Location.File);
                w.WriteNumber("line", d.Location.Line);
                w.WriteNumber("column", d.Location.Column);
                w.WriteString("message", d.Message);
                if (d.Object is null) w.WriteNull("object"); else w.WriteString("object", d.Object);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("summary");
            w.WriteNumber("errors", diags.Count(d => d.Severity == KmeshCompiler.Diagnostics.Severity.Error));
            w.WriteNumber("warnings", diags.Count(d => d.Severity == KmeshCompiler.Diagnostics.Severity.Warning));
            w.WriteNumber("infos", diags.Count(d => d.Severity == KmeshCompiler.Diagnostics.Severity.Info));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()).Replace("\r\n", "\n") + "\n";
    }

    /// <summary>SARIF 2.1.0: one run, one rule per code that occurs, one result per diagnostic.</summary>
    public static string Sarif(IReadOnlyList<Diagnostic> diags)
    {
        var rules = diags.Select(d => d.Descriptor).DistinctBy(d => d.Code).OrderBy(d => d.Code, StringComparer.Ordinal).ToList();
        var ruleIndex = rules.Select((r, i) => (r.Code, i)).ToDictionary(x => x.Code, x => x.i);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            SarifOpen(w, "kmeshc");
            foreach (var r in rules)
            {
                w.WriteStartObject();
                w.WriteString("id", r.Code);
                w.WriteStartObject("shortDescription");
                w.WriteString("text", System.Text.RegularExpressions.Regex.Replace(r.Format, @"\{\d+\}", "...").Replace("{{", "{").Replace("}}", "}"));
                w.WriteEndObject();
                w.WriteStartObject("defaultConfiguration");
                w.WriteString("level", Level(r.Severity));
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartArray("results");
            foreach (var d in diags)
            {
                w.WriteStartObject();
                w.WriteString("ruleId", d.Code);
                w.WriteNumber("ruleIndex", ruleIndex[d.Code]);
                w.WriteString("level", Level(d.Severity));
                w.WriteStartObject("message");
                w.WriteString("text", d.Object is null ? d.Message : $"{d.Object}: {d.Message}");
                w.WriteEndObject();
                if (d.Location.IsKnown)
                {
                    w.WriteStartArray("locations");
                    SarifLocation(w, d.Location);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()).Replace("\r\n", "\n") + "\n";
    }

    /// <summary>Opens a SARIF 2.1.0 log with one run of the named tool, up to its open "rules" array.</summary>
    public static void SarifOpen(Utf8JsonWriter w, string toolName)
    {
        w.WriteStartObject();
        w.WriteString("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
        w.WriteString("version", "2.1.0");
        w.WriteStartArray("runs");
        w.WriteStartObject();
        w.WriteStartObject("tool");
        w.WriteStartObject("driver");
        w.WriteString("name", toolName);
        w.WriteString("version", typeof(ValidateCommand).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
        w.WriteString("informationUri", "https://github.com/kmesh-net/kmesh");
        w.WriteStartArray("rules");
    }

    /// <summary>One SARIF location object: the file (relative paths stay relative) and, when
    /// known, the line and column.</summary>
    public static void SarifLocation(Utf8JsonWriter w, KmeshCompiler.Ir.SourceLocation loc)
    {
        w.WriteStartObject();
        w.WriteStartObject("physicalLocation");
        w.WriteStartObject("artifactLocation");
        w.WriteString("uri", Uri(loc.File));
        w.WriteEndObject();
        if (loc.Line > 0)
        {
            w.WriteStartObject("region");
            w.WriteNumber("startLine", loc.Line);
            if (loc.Column > 0) w.WriteNumber("startColumn", loc.Column);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static string Level(Severity s) => s switch
    {
        KmeshCompiler.Diagnostics.Severity.Error => "error",
        KmeshCompiler.Diagnostics.Severity.Warning => "warning",
        _ => "note",
    };

    /// <summary>Relative paths stay relative (code scanning resolves them against the checkout).</summary>
    private static string Uri(string file)
    {
        string f = file.Replace('\\', '/');
        if (f == "<stdin>") return "stdin";
        return string.Join('/', f.Split('/').Select(System.Uri.EscapeDataString)).Replace("%3A", ":");
    }

    /// <summary>GitHub workflow commands: ::error file=F,line=L,col=C::CODE: message.</summary>
    public static string Github(IReadOnlyList<Diagnostic> diags)
    {
        var sb = new StringBuilder();
        foreach (var d in diags)
        {
            string cmd = d.Severity switch { KmeshCompiler.Diagnostics.Severity.Error => "error", KmeshCompiler.Diagnostics.Severity.Warning => "warning", _ => "notice" };
            sb.Append("::").Append(cmd);
            if (d.Location.IsKnown)
            {
                sb.Append(" file=").Append(EscapeProperty(d.Location.File));
                if (d.Location.Line > 0) sb.Append(",line=").Append(d.Location.Line).Append(",col=").Append(d.Location.Column);
            }
            sb.Append("::").Append(EscapeData($"{d.Code}: {d.Message}")).Append('\n');
        }
        return sb.ToString();
    }

    internal static string EscapeData(string s) => s.Replace("%", "%25").Replace("\r", "%0D").Replace("\n", "%0A");

    internal static string EscapeProperty(string s) => EscapeData(s).Replace(":", "%3A").Replace(",", "%2C");
}
