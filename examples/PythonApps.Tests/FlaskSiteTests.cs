using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;

namespace PythonApps.Tests;

/// <summary>
/// The legacy Flask app's behaviour, pinned through WebApplicationFactory before its routes are ported to C#: each
/// test here must keep passing when a route moves from flask_site.py to a minimal API.
/// </summary>
public class FlaskSiteTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    private readonly HttpClient _client = factory.CreateClient();

    private sealed record Todo(int Id, string Title, bool Done);

    [Fact]
    public async Task TheIndex_LinksTheListUnderTheMountPoint()
    {
        Assert.Equal("Flask to-dos: /flask/todos", await _client.GetStringAsync("/flask/"));
    }

    [Fact]
    public async Task CreatingATodo_Answers201_WithItsLocation_WhereItCanBeRead()
    {
        var title = $"write tests {Guid.NewGuid():N}";
        var created = await _client.PostAsJsonAsync("/flask/todos", new { title });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var todo = (await created.Content.ReadFromJsonAsync<Todo>(JsonSerializerOptions.Web))!;
        Assert.Equal(title, todo.Title);
        Assert.False(todo.Done);
        Assert.Equal($"/flask/todos/{todo.Id}", created.Headers.Location?.OriginalString);
        Assert.Equal(todo, await _client.GetFromJsonAsync<Todo>(created.Headers.Location, JsonSerializerOptions.Web));
    }

    [Fact]
    public async Task AFormPost_Works_AsTheOldHtmlFormsSendIt()
    {
        var created = await _client.PostAsync("/flask/todos", new FormUrlEncodedContent([new("title", "from a form")]));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("from a form", (await created.Content.ReadFromJsonAsync<Todo>(JsonSerializerOptions.Web))!.Title);
    }

    [Fact]
    public async Task ATodoWithoutATitle_Is400_WithTheReason()
    {
        var response = await _client.PostAsJsonAsync("/flask/todos", new { title = " " });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("needs a title", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CompletingATodo_MarksItDone_AndItShowsInTheList()
    {
        var created = await _client.PostAsJsonAsync("/flask/todos", new { title = $"finish {Guid.NewGuid():N}" });
        var todo = (await created.Content.ReadFromJsonAsync<Todo>(JsonSerializerOptions.Web))!;

        var done = await _client.PostAsync($"/flask/todos/{todo.Id}/done", null);
        Assert.True((await done.Content.ReadFromJsonAsync<Todo>(JsonSerializerOptions.Web))!.Done);
        var list = (await _client.GetFromJsonAsync<Todo[]>("/flask/todos", JsonSerializerOptions.Web))!;
        Assert.Contains(todo with { Done = true }, list);
    }

    [Fact]
    public async Task AMissingTodo_Is404()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/flask/todos/999999")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.PostAsync("/flask/todos/999999/done", null)).StatusCode);
    }
}
