using Microsoft.Extensions.Logging;

namespace KmeshCompiler.Serve;

/// <summary>The events of serve's log lines (the "event" field of each JSON line; docs/serve.md).</summary>
public static class ServeEvents
{
    public static readonly EventId Started = new(1, "started");
    public static readonly EventId Resumed = new(2, "resumed");
    public static readonly EventId Published = new(3, "published");
    public static readonly EventId Unchanged = new(4, "unchanged");
    public static readonly EventId CompileFailed = new(5, "compile_failed");
    public static readonly EventId PublishFailed = new(6, "publish_failed");
    public static readonly EventId Partial = new(7, "partial");
    public static readonly EventId Rejected = new(8, "rejected");
    public static readonly EventId SourceFailed = new(9, "source_failed");
    public static readonly EventId Listening = new(10, "listening");
    public static readonly EventId Stopping = new(11, "stopping");
    public static readonly EventId Stopped = new(12, "stopped");
    public static readonly EventId Ready = new(13, "ready");
    public static readonly EventId Abandoned = new(14, "abandoned");
}
