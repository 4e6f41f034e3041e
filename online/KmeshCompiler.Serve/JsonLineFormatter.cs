using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace KmeshCompiler.Serve;

/// <summary>Serve's log lines: one JSON object per line,
/// <c>{"ts","level","event","msg","fields":{...}}</c>, where <c>event</c> is the event's name
/// (<see cref="ServeEvents"/>; the category for other sources) and <c>fields</c> the message's named
/// values with their JSON types.</summary>
public sealed class JsonLineFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "kmesh-json";

    /// <summary>A logger factory that writes these lines to standard error (Microsoft.Extensions.Logging's
    /// console provider: its own queue, flushed when the factory is disposed).</summary>
    public static ILoggerFactory CreateFactory(LogLevel minimum) => LoggerFactory.Create(b => b
        .SetMinimumLevel(minimum)
        .AddFilter("Microsoft", LogLevel.Warning)
        .AddConsole(o =>
        {
            o.FormatterName = FormatterName;
            o.LogToStandardErrorThreshold = LogLevel.Trace;
        })
        .AddConsoleFormatter<JsonLineFormatter, ConsoleFormatterOptions>());

    public override void Write<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopeProvider, TextWriter textWriter) =>
        textWriter.Write(Line(entry.LogLevel, entry.EventId.Name ?? entry.Category, entry.Formatter(entry.State, entry.Exception),
            entry.State as IReadOnlyList<KeyValuePair<string, object?>>, entry.Exception, DateTimeOffset.UtcNow));

    /// <summary>One line, newline included.</summary>
    public static string Line(LogLevel level, string @event, string message, IReadOnlyList<KeyValuePair<string, object?>>? fields, Exception? exception, DateTimeOffset at)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("ts", at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            w.WriteString("level", Level(level));
            w.WriteString("event", @event);
            w.WriteString("msg", message);
            w.WriteStartObject("fields");
            foreach (var (key, value) in fields ?? [])
                if (key != "{OriginalFormat}") Value(w, key, value);
            w.WriteEndObject();
            if (exception is not null) w.WriteString("exception", exception.ToString());
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    private static string Level(LogLevel l) => l switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };

    private static void Value(Utf8JsonWriter w, string key, object? v)
    {
        switch (v)
        {
            case null: w.WriteNull(key); break;
            case bool b: w.WriteBoolean(key, b); break;
            case int i: w.WriteNumber(key, i); break;
            case long l: w.WriteNumber(key, l); break;
            case uint u: w.WriteNumber(key, u); break;
            case ulong u: w.WriteNumber(key, u); break;
            case double d when double.IsFinite(d): w.WriteNumber(key, d); break;
            case float f when float.IsFinite(f): w.WriteNumber(key, f); break;
            default: w.WriteString(key, Convert.ToString(v, CultureInfo.InvariantCulture)); break;
        }
    }
}
