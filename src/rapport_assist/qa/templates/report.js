(function(){
  var root=document.documentElement;
  document.querySelectorAll('svg .nudge, svg .utt-bar').forEach(function(el){
    el.addEventListener('click',function(){
      var target=document.getElementById(el.getAttribute('data-target'));
      if(!target)return;
      target.scrollIntoView({behavior:'smooth',block:'center'});
      target.classList.remove('flash');void target.offsetWidth;target.classList.add('flash');
    });
  });
  var only=document.getElementById('only-nudged');
  if(only){only.addEventListener('change',function(){
    document.querySelectorAll('.utt').forEach(function(u){
      u.classList.toggle('hidden',only.checked&&!u.querySelector('.nudge-card, mark'));
    });
  });}
  var svg=document.querySelector('svg.timeline');
  var bars=svg?svg.querySelectorAll('.utt-bar').length:0;
  root.setAttribute('data-timeline-bars',String(bars));
  root.setAttribute('data-ready',svg&&svg.getBBox().width>0?'1':'0');
})();
