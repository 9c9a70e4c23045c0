using Microsoft.AspNetCore.Http.Features;

namespace GatewayBridge;

internal static class FeatureCollectionExtensions
{
    /// <summary>
    /// <c>Features.Get&lt;T&gt;()</c> without the generic virtual call: through the interface it is resolved by a
    /// runtime lookup on every request, while the type-keyed indexer is an ordinary interface call that Kestrel
    /// answers with a type switch. It matters on the per-request path.
    /// </summary>
    public static T? Feature<T>(this IFeatureCollection features)
        where T : class => features[typeof(T)] as T;
}
